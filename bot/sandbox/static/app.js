// o2o sandbox: three Telegram-like chats against the real bot, updated live.
// No frameworks, no external assets. Everything the bot wrote is rendered by building DOM nodes
// from an allow-list of Telegram's HTML tags; no text ever goes through innerHTML.
"use strict";

(function () {
  const state = {
    config: null,
    chats: new Map(), // chat id -> view {chat_id, items, keyboard}
    customer: null,
    speaker: null,
    generation: null,
    unread: new Set(),
  };
  const panes = [];

  // ------------------------------------------------------------------ small helpers

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    if (props) {
      for (const [key, value] of Object.entries(props)) {
        if (value === undefined || value === null || value === false) continue;
        if (key === "class") node.className = value;
        else if (key === "text") node.textContent = value;
        else if (key === "dataset") Object.assign(node.dataset, value);
        else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
        else node.setAttribute(key, value === true ? "" : String(value));
      }
    }
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  class SandboxError extends Error {}

  async function api(path, body) {
    let response;
    try {
      response = await fetch(path, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body || {}),
      });
    } catch (error) {
      throw new SandboxError("the sandbox is not answering (stopped?)");
    }
    let data = null;
    try {
      data = await response.json();
    } catch (error) {
      data = null;
    }
    if (!data || !data.ok) {
      throw new SandboxError((data && data.error) || `the sandbox refused (${response.status})`);
    }
    return data;
  }

  function initials(name) {
    return (name || "?").trim().slice(0, 1).toUpperCase();
  }

  function avatar(name, hue) {
    const node = el("div", { class: "avatar", text: initials(name) });
    node.style.setProperty("--hue", String(hue));
    return node;
  }

  function hueOf(id) {
    return (Math.abs(Number(id)) * 47) % 360;
  }

  function formatSize(bytes) {
    if (bytes < 1024) return `${bytes} B`;
    if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
    return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  }

  // ------------------------------------------------------------------ Telegram HTML

  const TAG_RE = /<(\/?)([a-zA-Z][a-zA-Z0-9-]*)([^<>]*)>/g;
  const TAGS = {
    b: "b", strong: "b", i: "i", em: "i", u: "u", ins: "u", s: "s", strike: "s", del: "s",
    code: "code", pre: "pre", blockquote: "blockquote", a: "a", "tg-spoiler": "spoiler",
    span: "span", "tg-emoji": "span",
  };
  const ENTITIES = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'", nbsp: "\u00a0" };

  function unescapeHtml(text) {
    return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);/g, (whole, name) => {
      if (name[0] === "#") {
        const code = name[1] === "x" || name[1] === "X"
          ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
        try {
          return String.fromCodePoint(code);
        } catch (error) {
          return whole;
        }
      }
      return Object.prototype.hasOwnProperty.call(ENTITIES, name) ? ENTITIES[name] : whole;
    });
  }

  function attribute(attrs, name) {
    const match = new RegExp(`${name}\\s*=\\s*("([^"]*)"|'([^']*)'|([^\\s"'>]+))`, "i").exec(attrs);
    if (!match) return null;
    return unescapeHtml(match[2] ?? match[3] ?? match[4] ?? "");
  }

  // Build DOM nodes for Telegram HTML: allowed tags become elements, everything else text.
  function renderHtml(source, pane) {
    const root = document.createDocumentFragment();
    const stack = [root];
    let last = 0;
    const top = () => stack[stack.length - 1];
    for (const match of source.matchAll(TAG_RE)) {
      if (match.index > last) top().append(unescapeHtml(source.slice(last, match.index)));
      last = match.index + match[0].length;
      const closing = match[1] === "/";
      const name = match[2].toLowerCase();
      const kind = TAGS[name];
      if (!kind) {
        top().append(match[0]);
        continue;
      }
      if (closing) {
        if (stack.length > 1) stack.pop();
        continue;
      }
      let node;
      if (kind === "a") {
        node = linkNode(attribute(match[3], "href"), pane);
      } else if (kind === "spoiler" || (kind === "span" && /tg-spoiler/.test(match[3]))) {
        node = el("span", { class: "spoiler", title: "spoiler: click to show" });
        node.addEventListener("click", () => node.classList.add("shown"));
      } else if (kind === "span") {
        node = el("span");
      } else if (kind === "blockquote") {
        node = el("blockquote", { class: /expandable/.test(match[3]) ? "expandable" : null });
      } else {
        node = el(kind);
      }
      top().append(node);
      stack.push(node);
    }
    if (last < source.length) top().append(unescapeHtml(source.slice(last)));
    return root;
  }

  function startPayload(url) {
    const bot = state.config && state.config.bot_username;
    if (!bot || !url) return null;
    const match = /^https?:\/\/t\.me\/([A-Za-z0-9_]+)\?start=([A-Za-z0-9_-]{1,64})$/.exec(url);
    return match && match[1].toLowerCase() === bot.toLowerCase() ? match[2] : null;
  }

  function linkNode(href, pane) {
    const safe = href && /^(https?:|tg:|mailto:)/i.test(href) ? href : null;
    if (!safe) return el("span", { class: "link" });
    const node = el("a", { href: safe, target: "_blank", rel: "noopener noreferrer" });
    const payload = startPayload(safe);
    if (payload && pane && pane.private) {
      node.title = `opens the bot: /start ${payload}`;
      node.addEventListener("click", (event) => {
        event.preventDefault();
        sendText(pane, `/start ${payload}`);
      });
    }
    return node;
  }

  // ------------------------------------------------------------------ messages

  function buildItem(pane, item) {
    if (item.t === "user") return buildUserItem(pane, item);
    return buildBotItem(pane, item);
  }

  function buildUserItem(pane, item) {
    const mine = item.from_id === pane.userId();
    const bubble = el("div", { class: "bubble" });
    if (!mine || pane.key === "group") {
      bubble.append(el("div", { class: "from", text: item.from }));
      bubble.lastChild.style.setProperty("--hue", String(hueOf(item.from_id)));
    }
    if (item.text !== undefined) {
      bubble.append(el("div", { class: "text", text: item.text }));
    } else if (item.contact !== undefined) {
      bubble.append(
        el("div", { class: "card" },
          el("span", { class: "card-icon", text: "👤" }),
          el("div", null, el("div", { class: "card-title", text: item.from }),
            el("div", { class: "card-sub", text: item.contact }))));
    } else if (item.location) {
      const loc = item.location;
      bubble.append(
        el("div", { class: "card location" },
          el("span", { class: "card-icon", text: "📍" }),
          el("div", null,
            el("div", { class: "card-title", text: loc.place || "Location" }),
            el("div", { class: "card-sub",
              text: `${loc.latitude.toFixed(4)}, ${loc.longitude.toFixed(4)}` }))));
    }
    const row = el("div", { class: `msg ${mine ? "out" : "in"} user`, dataset: { key: item.key } });
    if (!mine) row.append(avatar(item.from, hueOf(item.from_id)));
    row.append(bubble);
    return row;
  }

  function buildBotItem(pane, item) {
    const bubble = el("div", { class: "bubble" });
    if (item.kind === "photo") {
      bubble.classList.add("media");
      if (item.photo) {
        const img = el("img", { class: "photo", src: item.photo, alt: "photo from the bot" });
        img.addEventListener("load", () => pane.keepBottom());
        img.addEventListener("click", () => window.open(item.photo, "_blank", "noopener"));
        bubble.append(img);
      } else if (item.photo_url) {
        const name = item.photo_url.split("/").pop() || "photo";
        bubble.append(el("div", { class: "missing" },
          "🖼 ", el("a", { href: item.photo_url, target: "_blank", rel: "noopener noreferrer", text: name }),
          el("div", { class: "card-sub", text: "a photo on the web: not loaded, the sandbox works offline" })));
      } else {
        bubble.append(el("div", { class: "missing", text: "🖼 photo (no longer available)" }));
      }
    } else if (item.kind === "document") {
      const doc = item.document;
      const name = el("div", { class: "card-title", text: doc.name });
      const card = el("div", { class: "card document" },
        el("span", { class: "card-icon", text: "📄" }),
        el("div", null, name, el("div", { class: "card-sub", text: formatSize(doc.size) })));
      if (doc.url) {
        const link = el("a", {
          class: "download", href: `${doc.url}?download=1`, download: doc.name,
          text: "Download",
        });
        card.append(link);
      }
      bubble.append(card);
    } else if (item.kind === "invoice") {
      const inv = item.invoice;
      bubble.append(el("div", { class: "card invoice" },
        el("span", { class: "card-icon", text: "🧾" }),
        el("div", null, el("div", { class: "card-title", text: inv.title }),
          el("div", { class: "card-sub", text: inv.description }),
          el("div", { class: "card-sub", text: `${(inv.total_amount / 100).toFixed(2)} ${inv.currency}` }))));
    }
    if (item.html !== undefined || item.text !== undefined) {
      const body = el("div", { class: item.kind === "text" ? "text" : "text caption" });
      if (item.html !== undefined) body.append(renderHtml(item.html, pane));
      else body.textContent = item.text;
      bubble.append(body);
    }
    if (item.edited) bubble.append(el("span", { class: "edited", text: "edited" }));
    const column = el("div", { class: "column" }, bubble);
    if (item.buttons) column.append(inlineKeyboard(pane, item));
    const row = el("div", { class: "msg in bot", dataset: { key: item.key, id: String(item.id) } },
      column);
    return row;
  }

  function inlineKeyboard(pane, item) {
    const keyboard = el("div", { class: "inline-kb" });
    for (const row of item.buttons) {
      const line = el("div", { class: "kb-row" });
      for (const button of row) {
        const node = el("button", { type: "button", class: "ib", text: button.text });
        if (button.data !== undefined) {
          node.dataset.data = button.data;
          node.addEventListener("click", () => pressButton(pane, item.id, button.data, node));
        } else if (button.url) {
          node.classList.add("url");
          node.title = button.url;
          node.addEventListener("click", () => openUrl(pane, button.url));
        } else {
          node.disabled = true;
          node.title = "not available in the sandbox";
        }
        line.append(node);
      }
      keyboard.append(line);
    }
    return keyboard;
  }

  function openUrl(pane, url) {
    const payload = startPayload(url);
    if (payload && pane.private) {
      sendText(pane, `/start ${payload}`);
    } else if (/^https?:/i.test(url)) {
      window.open(url, "_blank", "noopener,noreferrer");
    } else {
      pane.note(`This link opens in Telegram: ${url}`);
    }
  }

  // ------------------------------------------------------------------ actions

  async function sendText(pane, text) {
    const trimmed = text.trim();
    if (!trimmed) {
      pane.note("An empty message can't be sent.");
      return false;
    }
    const limit = state.config.max_text_length;
    if (trimmed.length > limit * state.config.max_parts) {
      pane.note(`Too long: at most ${(limit * state.config.max_parts).toLocaleString("en")} characters at once.`);
      return false;
    }
    try {
      const result = await api("/api/send", {
        chat_id: pane.chatId(), user_id: pane.userId(), text,
      });
      pane.stickToBottom = true;
      if (result.parts > 1) {
        pane.note(`Sent as ${result.parts} messages: Telegram splits text over ${limit.toLocaleString("en")} characters.`, "info");
      }
      return true;
    } catch (error) {
      pane.note(`Not sent: ${error.message}`);
      return false;
    }
  }

  async function pressButton(pane, messageId, data, node) {
    if (node) node.classList.add("pending");
    try {
      const result = await api("/api/press", {
        chat_id: pane.chatId(), user_id: pane.userId(), message_id: messageId, data,
      });
      const answer = result.answer;
      if (answer && answer.text) {
        if (answer.show_alert) pane.alert(answer.text);
        else pane.toast(answer.text);
      }
    } catch (error) {
      pane.note(`The button did nothing: ${error.message}`);
    } finally {
      if (node) node.classList.remove("pending");
    }
  }

  async function shareContact(pane) {
    const who = pane.persona();
    const ok = await pane.confirm(
      `Share your phone number with the bot?`, `${who.name} shares their own contact.`,
      "Share contact");
    if (!ok) return;
    try {
      await api("/api/contact", { chat_id: pane.chatId(), user_id: pane.userId() });
      pane.stickToBottom = true;
    } catch (error) {
      pane.note(`Not shared: ${error.message}`);
    }
  }

  async function shareLocation(pane) {
    const index = await pane.pickPlace();
    if (index === null) return;
    try {
      await api("/api/location", { chat_id: pane.chatId(), user_id: pane.userId(), place: index });
      pane.stickToBottom = true;
    } catch (error) {
      pane.note(`Not shared: ${error.message}`);
    }
  }

  // ------------------------------------------------------------------ panes

  class Pane {
    constructor(key, options) {
      this.key = key;
      this.private = options.private;
      this.chatId = options.chatId;
      this.userId = options.userId;
      this.persona = options.persona;
      this.rendered = new Map();
      this.shownChat = null;
      this.stickToBottom = true;
      this.root = el("section", { class: `pane pane-${key}`, dataset: { pane: key } });
      this.head = el("div", { class: "pane-head" });
      this.switcher = el("div", { class: "switcher", role: "tablist" });
      this.list = el("div", { class: "messages", dataset: { role: "messages" } });
      this.keyboard = el("div", { class: "reply-kb", hidden: true });
      this.overlay = el("div", { class: "overlay" });
      this.root.append(this.head, this.switcher, this.list, this.keyboard, this.composer(), this.overlay);
      this.list.addEventListener("scroll", () => {
        const gap = this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight;
        this.stickToBottom = gap < 48;
      });
    }

    composer() {
      const form = el("form", { class: "composer", autocomplete: "off" });
      const input = el("textarea", {
        rows: 1, placeholder: "Message", "aria-label": "message", dataset: { role: "input" },
      });
      const counter = el("span", { class: "counter", hidden: true });
      const send = el("button", {
        type: "submit", class: "send", title: "Send", disabled: true, text: "➤",
        dataset: { role: "send" },
      });
      const refresh = () => {
        const length = input.value.trim().length;
        send.disabled = length === 0;
        const limit = state.config ? state.config.max_text_length : 4096;
        counter.hidden = length <= limit;
        counter.textContent = `${length.toLocaleString("en")} / ${limit.toLocaleString("en")}`;
        input.style.height = "auto";
        input.style.height = `${Math.min(input.scrollHeight, 140)}px`;
      };
      input.addEventListener("input", refresh);
      input.addEventListener("keydown", (event) => {
        if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
          event.preventDefault();
          form.requestSubmit();
        }
      });
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        if (!input.value.trim()) {
          this.note("An empty message can't be sent.");
          return;
        }
        const text = input.value;
        if (await sendText(this, text)) {
          if (input.value === text) input.value = "";
          refresh();
        }
      });
      if (this.private) {
        const attach = el("button", { type: "button", class: "attach", title: "Share…", text: "📎" });
        attach.addEventListener("click", () => this.attachMenu());
        form.append(attach);
      }
      form.append(input, counter, send);
      this.input = input;
      return form;
    }

    attachMenu() {
      const menu = this.modal("Share", null);
      const list = el("div", { class: "choices" });
      list.append(
        el("button", { type: "button", text: "📍 A location…", onclick: () => { menu.close(); shareLocation(this); } }),
        el("button", { type: "button", text: "👤 My phone number", onclick: () => { menu.close(); shareContact(this); } }),
      );
      menu.body.append(list);
    }

    modal(title, text, extraClass) {
      const box = el("div", { class: `modal ${extraClass || ""}`, role: "dialog" });
      const backdrop = el("div", { class: "backdrop" }, box);
      if (title) box.append(el("div", { class: "modal-title", text: title }));
      if (text) box.append(el("div", { class: "modal-text", text }));
      const body = el("div", { class: "modal-body" });
      const actions = el("div", { class: "modal-actions" });
      box.append(body, actions);
      let closed = false;
      const result = {
        body, actions, box,
        close: () => {
          if (!closed) backdrop.remove();
          closed = true;
          if (result.onclose) result.onclose();
        },
        onclose: null,
      };
      backdrop.addEventListener("click", (event) => { if (event.target === backdrop) result.close(); });
      this.overlay.append(backdrop);
      return result;
    }

    confirm(title, text, label) {
      return new Promise((resolve) => {
        const dialog = this.modal(title, text);
        dialog.onclose = () => resolve(false);
        dialog.actions.append(
          el("button", { type: "button", class: "plain", text: "Cancel", onclick: () => dialog.close() }),
          el("button", {
            type: "button", class: "primary", text: label, dataset: { role: "confirm" },
            onclick: () => { dialog.onclose = null; dialog.close(); resolve(true); },
          }),
        );
      });
    }

    pickPlace() {
      return new Promise((resolve) => {
        const dialog = this.modal("Send a location", "Places near the stores:");
        dialog.onclose = () => resolve(null);
        const list = el("div", { class: "choices" });
        state.config.places.forEach((place, index) => {
          list.append(el("button", {
            type: "button", text: `📍 ${place}`, dataset: { place: String(index) },
            onclick: () => { dialog.onclose = null; dialog.close(); resolve(index); },
          }));
        });
        dialog.body.append(list);
        dialog.actions.append(el("button", { type: "button", class: "plain", text: "Cancel", onclick: () => dialog.close() }));
      });
    }

    alert(text) {
      const dialog = this.modal(null, text, "alert");
      dialog.box.dataset.role = "alert";
      dialog.actions.append(el("button", { type: "button", class: "primary", text: "OK", onclick: () => dialog.close() }));
    }

    toast(text, kind) {
      // Like Telegram, one toast at a time: a new one replaces what is showing.
      for (const old of this.overlay.querySelectorAll(".toast")) old.remove();
      const node = el("div", { class: `toast ${kind || ""}`, role: "status", text });
      this.overlay.append(node);
      setTimeout(() => node.classList.add("fade"), kind === "error" ? 4500 : 2600);
      setTimeout(() => node.remove(), kind === "error" ? 5000 : 3100);
    }

    note(text, kind) {
      this.toast(text, kind || "error");
    }

    keepBottom() {
      if (this.stickToBottom) this.list.scrollTop = this.list.scrollHeight;
    }

    render() {
      const chatId = this.chatId();
      const view = state.chats.get(chatId) || { items: [], keyboard: null };
      if (this.shownChat !== chatId) {
        this.rendered.clear();
        this.list.replaceChildren();
        this.shownChat = chatId;
        this.stickToBottom = true;
      }
      const wanted = [];
      const next = new Map();
      for (const item of view.items) {
        const json = JSON.stringify(item) + (item.t === "user" ? `|${this.userId()}` : "");
        const known = this.rendered.get(item.key);
        const node = known && known.json === json ? known.node : buildItem(this, item);
        next.set(item.key, { json, node });
        wanted.push(node);
      }
      this.rendered = next;
      // Put the nodes in order, touching the DOM only where it differs.
      let cursor = this.list.firstChild;
      for (const node of wanted) {
        if (node !== cursor) this.list.insertBefore(node, cursor);
        else cursor = cursor.nextSibling;
      }
      while (cursor) {
        const after = cursor.nextSibling;
        cursor.remove();
        cursor = after;
      }
      if (!view.items.length) {
        this.list.append(el("div", { class: "empty", text: this.emptyText() }));
      }
      this.renderKeyboard(view.keyboard);
      this.keepBottom();
    }

    emptyText() {
      if (this.key === "group") return "No messages here yet.";
      return "No messages here yet. Type /start, or press the button below.";
    }

    renderKeyboard(rows) {
      this.keyboard.replaceChildren();
      const showStart = !rows && this.private && !(state.chats.get(this.chatId()) || { items: [] }).items.length;
      if (!rows && !showStart) {
        this.keyboard.hidden = true;
        return;
      }
      this.keyboard.hidden = false;
      if (showStart) {
        this.keyboard.append(el("div", { class: "kb-row" },
          el("button", { type: "button", class: "rb start", text: "START", onclick: () => sendText(this, "/start") })));
        return;
      }
      for (const row of rows) {
        const line = el("div", { class: "kb-row" });
        for (const button of row) {
          const node = el("button", { type: "button", class: "rb", text: button.text });
          if (button.request_contact) {
            node.classList.add("contact");
            node.addEventListener("click", () => shareContact(this));
          } else if (button.request_location) {
            node.classList.add("location");
            node.addEventListener("click", () => shareLocation(this));
          } else {
            node.addEventListener("click", () => sendText(this, button.text));
          }
          line.append(node);
        }
        this.keyboard.append(line);
      }
    }
  }

  function paneHead(pane, title, subtitle, hue) {
    pane.head.replaceChildren(
      avatar(title, hue),
      el("div", { class: "head-text" },
        el("div", { class: "head-title", text: title }),
        el("div", { class: "head-sub", text: subtitle })),
    );
  }

  function chip(label, sub, selected, onclick, dataset) {
    return el("button", {
      type: "button", class: `chip${selected ? " selected" : ""}`, role: "tab",
      "aria-selected": selected ? "true" : "false", onclick, dataset,
    }, el("span", { class: "chip-name", text: label }), sub ? el("span", { class: "chip-sub", text: sub }) : null);
  }

  function buildPanes() {
    const config = state.config;
    const container = document.getElementById("panes");
    container.replaceChildren();

    const customer = new Pane("customer", {
      private: true,
      chatId: () => state.customer,
      userId: () => state.customer,
      persona: () => config.customers.find((c) => c.id === state.customer),
    });
    const refreshCustomer = () => {
      const who = customer.persona();
      paneHead(customer, "O2O Demo Bot", `${who.name}'s private chat with the bot · ${who.role}`, 200);
      customer.switcher.replaceChildren(
        el("span", { class: "switch-label", text: "Customer:" }),
        ...config.customers.map((c) => chip(c.name, c.role, c.id === state.customer, () => {
          state.customer = c.id;
          state.unread.delete(c.id);
          refreshCustomer();
          customer.render();
        }, { customer: String(c.id), unread: state.unread.has(c.id) ? "1" : "0" })),
      );
    };
    customer.refreshHead = refreshCustomer;

    const group = new Pane("group", {
      private: false,
      chatId: () => config.group.id,
      userId: () => state.speaker,
      persona: () => config.staff.find((s) => s.id === state.speaker),
    });
    const refreshGroup = () => {
      paneHead(group, config.group.title, `staff group · ${config.staff.length} members and the bot`, 30);
      group.switcher.replaceChildren(
        el("span", { class: "switch-label", text: "Speaking:" }),
        ...config.staff.map((s) => chip(s.name, s.role, s.id === state.speaker, () => {
          state.speaker = s.id;
          refreshGroup();
          group.render();
          group.input.placeholder = `Message as ${s.name}`;
        }, { speaker: String(s.id) })),
      );
    };
    group.refreshHead = refreshGroup;

    const manager = new Pane("manager", {
      private: true,
      chatId: () => config.manager.id,
      userId: () => config.manager.id,
      persona: () => config.manager,
    });
    manager.refreshHead = () => {
      paneHead(manager, "O2O Demo Bot", `${config.manager.name}'s private chat · ${config.manager.role}`, 200);
      manager.switcher.replaceChildren(
        el("span", { class: "switch-label", text: "Manager:" }),
        chip(config.manager.name, "try /stats, /export, /rfm, /push", true, () => {}, {}),
      );
    };

    for (const pane of [customer, group, manager]) {
      panes.push(pane);
      pane.refreshHead();
      container.append(pane.root);
      pane.render();
    }
    group.input.placeholder = `Message as ${group.persona().name}`;
  }

  // ------------------------------------------------------------------ live updates

  function onChat(view) {
    state.chats.set(view.chat_id, view);
    let shown = false;
    for (const pane of panes) {
      if (pane.chatId() === view.chat_id) {
        pane.render();
        shown = true;
      }
    }
    const isCustomer = state.config.customers.some((c) => c.id === view.chat_id);
    if (!shown && isCustomer && view.items.length) {
      state.unread.add(view.chat_id);
      panes[0].refreshHead();
    }
  }

  function onStatus(status) {
    document.getElementById("clock").textContent = status.clock;
    for (const node of document.querySelectorAll("#outbox .fig")) {
      const value = status.outbox[node.dataset.fig] || 0;
      node.querySelector("b").textContent = String(value);
      node.classList.toggle("hot", value > 0 && ["failed", "dead", "rate_limited", "pending"].includes(node.dataset.fig));
    }
    document.body.classList.toggle("resetting", Boolean(status.resetting));
    if (state.generation !== null && status.generation !== state.generation) {
      state.chats.clear();
      state.unread.clear();
      for (const pane of panes) {
        pane.overlay.replaceChildren();
        pane.refreshHead();
        pane.render();
      }
    }
    state.generation = status.generation;
  }

  function connect() {
    const conn = document.getElementById("conn");
    const source = new EventSource("/api/events");
    source.addEventListener("open", () => {
      conn.textContent = "● live";
      conn.className = "conn live";
      document.body.dataset.live = "1";
    });
    source.addEventListener("error", () => {
      conn.textContent = "reconnecting…";
      conn.className = "conn down";
      document.body.dataset.live = "0";
    });
    source.addEventListener("chat", (event) => onChat(JSON.parse(event.data)));
    source.addEventListener("status", (event) => onStatus(JSON.parse(event.data)));
  }

  // ------------------------------------------------------------------ control strip

  function controls() {
    const form = document.getElementById("advance");
    const input = document.getElementById("advance-minutes");
    const go = async (minutes) => {
      if (!Number.isInteger(minutes) || minutes < 1 || minutes > 10080) {
        panes[2].note("Advance by 1 to 10,080 minutes.");
        return;
      }
      form.classList.add("busy");
      try {
        const result = await api("/api/advance", { minutes });
        document.getElementById("clock").textContent = result.clock;
      } catch (error) {
        panes[2].note(`Clock not moved: ${error.message}`);
      } finally {
        form.classList.remove("busy");
      }
    };
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      go(Number(input.value));
    });
    for (const button of form.querySelectorAll("[data-minutes]")) {
      button.addEventListener("click", () => go(Number(button.dataset.minutes)));
    }
    const reset = document.getElementById("reset");
    const confirmBox = document.getElementById("reset-confirm");
    reset.addEventListener("click", () => {
      reset.hidden = true;
      confirmBox.hidden = false;
    });
    document.getElementById("reset-no").addEventListener("click", () => {
      reset.hidden = false;
      confirmBox.hidden = true;
    });
    document.getElementById("reset-yes").addEventListener("click", async () => {
      confirmBox.hidden = true;
      reset.hidden = false;
      reset.disabled = true;
      reset.textContent = "↺ Resetting…";
      try {
        await api("/api/reset", {});
      } catch (error) {
        panes[2].note(`Not reset: ${error.message}`);
      } finally {
        reset.disabled = false;
        reset.textContent = "↺ Reset";
      }
    });
  }

  async function start() {
    let config = null;
    try {
      const response = await fetch("/api/config");
      config = await response.json();
    } catch (error) {
      config = null;
    }
    if (!config || !config.ok) {
      document.getElementById("conn").textContent = "the sandbox is not answering";
      return;
    }
    state.config = config;
    state.customer = config.customers[0].id;
    state.speaker = config.staff[0].id;
    buildPanes();
    controls();
    connect();
    document.body.dataset.ready = "1";
  }

  // For tests and the curious: the state, and a press on any button data (as a stale client
  // would send it).
  window.sandbox = {
    state,
    panes,
    press: (paneKey, messageId, data) => {
      const pane = panes.find((p) => p.key === paneKey);
      return pressButton(pane, messageId, data, null);
    },
  };

  document.addEventListener("DOMContentLoaded", start);
})();
