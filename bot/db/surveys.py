"""Satisfaction surveys in the database: scheduling, claiming due ones, answers, expiry."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import models
from domain.ports import ReportRequest, SurveyView
from domain.surveys import ANSWERED, CANCELLED, EXPIRED, SCHEDULED, SENT


def _view(row: models.Survey) -> SurveyView:
    return SurveyView(
        id=row.id,
        customer_id=row.customer_id,
        store_id=row.store_id,
        status=row.status,
        due_at=row.due_at,
        order_id=row.order_id,
        reservation_id=row.reservation_id,
        sent_at=row.sent_at,
        expires_at=row.expires_at,
        score=row.score,
        comment=row.comment,
        answered_at=row.answered_at,
    )


class SqlSurveyRepository:
    """Surveys; every change is compare-and-set on the status, so a retry never doubles one."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def schedule(
        self,
        *,
        customer_id: int,
        store_id: int,
        due_at: datetime,
        expires_at: datetime,
        order_id: int | None = None,
        reservation_id: int | None = None,
    ) -> bool:
        """Schedule the one survey of an order or booking; False if it has one already."""
        values: dict[str, Any] = {
            "customer_id": customer_id,
            "store_id": store_id,
            "order_id": order_id,
            "reservation_id": reservation_id,
            "status": SCHEDULED,
            "due_at": due_at,
            "expires_at": expires_at,
        }
        dialect = self.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = insert(models.Survey).values(**values).on_conflict_do_nothing()
        result = cast(CursorResult[Any], await self.session.execute(statement))
        return result.rowcount == 1

    async def get(self, survey_id: int) -> SurveyView | None:
        """One survey."""
        row = await self.session.get(models.Survey, survey_id)
        return _view(row) if row is not None else None

    async def due(self, now: datetime, limit: int) -> Sequence[SurveyView]:
        """Scheduled surveys whose time has come, oldest first."""
        rows = await self.session.scalars(
            select(models.Survey)
            .where(models.Survey.status == SCHEDULED, models.Survey.due_at <= now)
            .order_by(models.Survey.due_at, models.Survey.id)
            .limit(limit)
        )
        return [_view(row) for row in rows]

    async def _move(self, survey_id: int, statuses: Sequence[str], **values: Any) -> bool:
        result = cast(
            CursorResult[Any],
            await self.session.execute(
                update(models.Survey)
                .where(models.Survey.id == survey_id, models.Survey.status.in_(statuses))
                .values(**values)
                .execution_options(synchronize_session=False)
            ),
        )
        return result.rowcount == 1

    async def postpone(self, survey_id: int, due_at: datetime) -> bool:
        """Move a scheduled survey's time (out of the quiet hours)."""
        return await self._move(survey_id, [SCHEDULED], due_at=due_at)

    async def mark_sent(self, survey_id: int, now: datetime) -> bool:
        """Claim a scheduled survey for sending; False if another process did."""
        return await self._move(survey_id, [SCHEDULED], status=SENT, sent_at=now)

    async def cancel(self, survey_id: int) -> bool:
        """Drop a scheduled survey (surveys turned off, customer unreachable)."""
        return await self._move(survey_id, [SCHEDULED], status=CANCELLED)

    async def cancel_all_scheduled(self, customer_id: int) -> int:
        """Drop every survey still waiting to be sent to this customer."""
        result = cast(
            CursorResult[Any],
            await self.session.execute(
                update(models.Survey)
                .where(models.Survey.customer_id == customer_id, models.Survey.status == SCHEDULED)
                .values(status=CANCELLED)
                .execution_options(synchronize_session=False)
            ),
        )
        return max(result.rowcount, 0)

    async def score(self, survey_id: int, score: int, now: datetime) -> bool:
        """Record the score, or change it while the comment prompt is still open."""
        survey = models.Survey
        first = await self._move(survey_id, [SENT], status=ANSWERED, score=score, answered_at=now)
        if first:
            return True
        result = cast(
            CursorResult[Any],
            await self.session.execute(
                update(survey)
                .where(
                    survey.id == survey_id,
                    survey.status == ANSWERED,
                    survey.comment.is_(None),
                )
                .values(score=score)
                .execution_options(synchronize_session=False)
            ),
        )
        return result.rowcount == 1

    async def close(self, survey_id: int, comment: str) -> bool:
        """Close the comment prompt with a comment ("" when skipped); False if closed already."""
        result = cast(
            CursorResult[Any],
            await self.session.execute(
                update(models.Survey)
                .where(
                    models.Survey.id == survey_id,
                    models.Survey.status == ANSWERED,
                    models.Survey.comment.is_(None),
                )
                .values(comment=comment)
                .execution_options(synchronize_session=False)
            ),
        )
        return result.rowcount == 1

    async def expire(self, now: datetime) -> int:
        """Sent surveys nobody answered in time become expired."""
        result = cast(
            CursorResult[Any],
            await self.session.execute(
                update(models.Survey)
                .where(models.Survey.status == SENT, models.Survey.expires_at <= now)
                .values(status=EXPIRED)
                .execution_options(synchronize_session=False)
            ),
        )
        return max(result.rowcount, 0)

    async def open_prompts(self, answered_before: datetime, limit: int) -> Sequence[SurveyView]:
        """Answered surveys whose comment prompt is still open since before the cut-off."""
        rows = await self.session.scalars(
            select(models.Survey)
            .where(
                models.Survey.status == ANSWERED,
                models.Survey.comment.is_(None),
                models.Survey.answered_at <= answered_before,
            )
            .order_by(models.Survey.answered_at, models.Survey.id)
            .limit(limit)
        )
        return [_view(row) for row in rows]


class SqlReportRepository:
    """Report requests (/stats, /export), claimed and answered by bot/reports.py."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.queued = False  # a request was added: the report worker has work once committed

    async def request(self, request: ReportRequest, now: datetime) -> None:
        """Queue a report."""
        self.queued = True
        self.session.add(
            models.ReportRequest(
                kind=request.kind,
                chat_id=request.chat_id,
                user_id=request.user_id,
                locale=request.locale,
                store_code=request.store_code,
                period=request.period,
                switch_stores=request.switch_stores,
                status="pending",
                created_at=now,
            )
        )
        await self.session.flush()
