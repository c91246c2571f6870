/*
 * Switchboard web chat widget. Embed with one tag:
 *
 *   <script src="https://support.example.com/static/connectors/webchat.js"
 *           data-widget-key="YOUR-WIDGET-KEY" async></script>
 *
 * Signed-in users (optional): add data-user-id, data-user-signature (hex
 * HMAC-SHA256 of the user id with the widget's secret, computed on your
 * server), data-user-name and data-user-email.
 *
 * It talks to /ws/chat/<key>/ on the server it was loaded from, keeps its
 * conversation token in localStorage (reconnects keep the conversation) and
 * re-sends unacknowledged messages with the same id (stored once).
 * Text is always rendered as text, never as HTML.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !script.dataset.widgetKey) {
    if (window.console) console.error("switchboard chat: data-widget-key is missing on the script tag");
    return;
  }
  var key = script.dataset.widgetKey;
  var base = new URL(script.src, window.location.href);
  var wsUrl = (base.protocol === "https:" ? "wss://" : "ws://") + base.host + "/ws/chat/" + encodeURIComponent(key) + "/";
  var storeKey = "switchboard-chat:" + key;
  var title = script.dataset.title || "Chat with us";

  var state = {
    socket: null,
    welcomed: false,
    token: null,
    pending: [], // frames sent but not acknowledged, re-sent on reconnect
    seen: {}, // message ids shown
    status: null,
    agentsOnline: false,
    needsDetails: true,
    retry: 0,
    positionTimer: null,
    typingTimer: null,
    survey: null, // the token of the survey shown
  };
  try { state.token = window.localStorage.getItem(storeKey); } catch (e) { state.token = null; }

  // ---- DOM ---------------------------------------------------------------
  var host = document.createElement("div");
  host.id = "switchboard-chat";
  var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
  root.innerHTML =
    "<style>" +
    ":host{all:initial}" +
    ".sb{font:14px/1.4 system-ui,sans-serif;color:#1d232b;position:fixed;right:20px;bottom:20px;z-index:2147483000}" +
    ".launcher{background:#1f5fbf;color:#fff;border:0;border-radius:22px;padding:11px 18px;font:inherit;cursor:pointer;box-shadow:0 2px 8px rgba(0,0,0,.25)}" +
    ".panel{display:none;flex-direction:column;width:340px;height:480px;max-height:80vh;background:#fff;border-radius:10px;box-shadow:0 4px 24px rgba(0,0,0,.25);overflow:hidden}" +
    ".sb.open .panel{display:flex}.sb.open .launcher{display:none}" +
    "header{background:#1f5fbf;color:#fff;padding:10px 12px;display:flex;gap:8px;align-items:center}" +
    "header strong{flex:1}header button{background:rgba(255,255,255,.18);color:#fff;border:0;border-radius:4px;padding:4px 8px;font:inherit;font-size:12px;cursor:pointer}" +
    ".status{padding:6px 12px;background:#eef3fb;font-size:12px;color:#334}" +
    ".log{flex:1;overflow-y:auto;padding:10px 12px;display:flex;flex-direction:column;gap:6px}" +
    ".msg{max-width:80%;padding:7px 10px;border-radius:10px;white-space:pre-wrap;word-wrap:break-word}" +
    ".msg.in{align-self:flex-end;background:#1f5fbf;color:#fff}.msg.out{align-self:flex-start;background:#eceff3}" +
    ".msg .who{display:block;font-size:11px;opacity:.75}.msg.pending{opacity:.6}" +
    ".typing{padding:0 12px 4px;font-size:12px;color:#667;min-height:16px}" +
    "form{display:flex;flex-direction:column;gap:6px;padding:10px 12px;border-top:1px solid #e3e6ea}" +
    "form.compose{flex-direction:row}" +
    "label{display:flex;flex-direction:column;font-size:12px;gap:2px}" +
    "input,textarea{font:inherit;padding:6px 8px;border:1px solid #c5ccd6;border-radius:6px}" +
    "form.compose textarea{flex:1;resize:none;height:38px}" +
    "form button{background:#1f5fbf;color:#fff;border:0;border-radius:6px;padding:6px 12px;font:inherit;cursor:pointer}" +
    ".note{padding:8px 12px;font-size:13px}.error{color:#a31515;font-size:12px;padding:0 12px}" +
    ".survey{align-self:stretch;border:1px solid #c5ccd6;border-radius:10px;padding:8px 10px;display:flex;flex-direction:column;gap:6px}" +
    ".survey p{margin:0}.survey .scores{display:flex;gap:4px}" +
    ".survey button{flex:1;background:#eceff3;color:#1d232b;border:1px solid #c5ccd6;border-radius:6px;padding:5px;font:inherit;cursor:pointer}" +
    ".survey button[aria-pressed=true],.survey button.send{background:#1f5fbf;color:#fff;border-color:#1f5fbf}" +
    "[hidden]{display:none!important}" +
    "</style>" +
    '<div class="sb">' +
    '<button class="launcher" type="button" aria-label="Open chat"></button>' +
    '<section class="panel" role="dialog" aria-label="Chat">' +
    '<header><strong class="title"></strong>' +
    '<button type="button" class="person">Talk to a person</button>' +
    '<button type="button" class="close" aria-label="Close chat">×</button></header>' +
    '<div class="status" role="status" aria-live="polite">Connecting…</div>' +
    '<form class="details" hidden aria-label="Before we start">' +
    '<p class="note">Tell us who you are and we will connect you.</p>' +
    '<label>Name<input name="name" required maxlength="200" autocomplete="name"></label>' +
    '<label>Email (optional)<input name="email" type="email" maxlength="254" autocomplete="email"></label>' +
    '<button type="submit">Start chat</button></form>' +
    '<form class="offline" hidden aria-label="Leave a message">' +
    '<p class="note">Nobody is available to chat right now. Leave a message and we will answer by email.</p>' +
    '<label>Name<input name="name" maxlength="200" autocomplete="name"></label>' +
    '<label>Email<input name="email" type="email" required maxlength="254" autocomplete="email"></label>' +
    '<label>Message<textarea name="text" required maxlength="10000" rows="4"></textarea></label>' +
    '<button type="submit">Send message</button></form>' +
    '<div class="log" aria-label="Conversation" aria-live="polite"></div>' +
    '<div class="typing" aria-live="polite"></div>' +
    '<div class="error" role="alert"></div>' +
    '<form class="compose" hidden aria-label="Write a message">' +
    '<textarea name="text" aria-label="Your message" maxlength="10000" placeholder="Type your message"></textarea>' +
    '<button type="submit">Send</button></form>' +
    "</section></div>";

  function $(sel) { return root.querySelector(sel); }
  var box = $(".sb"), log = $(".log"), statusEl = $(".status"), typingEl = $(".typing"), errorEl = $(".error");
  var detailsForm = $("form.details"), offlineForm = $("form.offline"), compose = $("form.compose");
  $(".launcher").textContent = title;
  $(".title").textContent = title;

  function show(view) {
    detailsForm.hidden = view !== "details";
    offlineForm.hidden = view !== "offline";
    compose.hidden = view !== "chat";
    log.hidden = view === "details" || view === "offline";
    box.setAttribute("data-view", view);
  }

  function newId() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    return Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  function addMessage(m, pending) {
    var id = m.id != null ? String(m.id) : null;
    if (id && state.seen[id]) return;
    if (id) state.seen[id] = true;
    var el = document.createElement("div");
    el.className = "msg " + (m.direction === "in" ? "in" : "out") + (pending ? " pending" : "");
    if (pending) el.setAttribute("data-client-id", m.clientId);
    if (m.direction !== "in" && m.author) {
      var who = document.createElement("span");
      who.className = "who";
      who.textContent = m.author;
      el.appendChild(who);
    }
    var body = document.createElement("span");
    body.className = "body";
    body.textContent = m.text;
    el.appendChild(body);
    log.appendChild(el);
    log.scrollTop = log.scrollHeight;
    if (m.direction !== "in") typingEl.textContent = "";
  }

  // ---- Satisfaction survey (after the chat is resolved) -------------------
  function showSurvey(s) {
    if (!s || !s.token || state.survey === s.token) return;
    state.survey = s.token;
    var chosen = null;
    var card = document.createElement("form");
    card.className = "survey";
    card.setAttribute("aria-label", "Rate this chat");
    var question = document.createElement("p");
    question.textContent = s.question || "How did we do?";
    var scores = document.createElement("div");
    scores.className = "scores";
    scores.setAttribute("role", "group");
    scores.setAttribute("aria-label", "Rating from 1 (poor) to 5 (excellent)");
    [1, 2, 3, 4, 5].forEach(function (n) {
      var b = document.createElement("button");
      b.type = "button";
      b.textContent = String(n);
      b.setAttribute("aria-label", "Rate " + n + " out of 5");
      b.setAttribute("aria-pressed", "false");
      b.addEventListener("click", function () {
        chosen = n;
        errorEl.textContent = "";
        scores.querySelectorAll("button").forEach(function (o) { o.setAttribute("aria-pressed", String(o === b)); });
      });
      scores.appendChild(b);
    });
    var comment = document.createElement("textarea");
    comment.setAttribute("aria-label", "Comment (optional)");
    comment.maxLength = 2000;
    comment.rows = 2;
    var submit = document.createElement("button");
    submit.type = "submit";
    submit.className = "send";
    submit.textContent = "Send rating";
    card.appendChild(question);
    card.appendChild(scores);
    card.appendChild(comment);
    card.appendChild(submit);
    card.addEventListener("submit", function (e) {
      e.preventDefault();
      if (!chosen) { errorEl.textContent = "Choose a number from 1 to 5."; return; }
      send({ type: "survey", token: s.token, score: chosen, comment: comment.value });
    });
    log.appendChild(card);
    log.scrollTop = log.scrollHeight;
  }

  // Answered here, by a typed number or by the link (pushed to every tab).
  function surveyAnswered(token) {
    var card = log.querySelector("form.survey");
    if (!card || state.survey !== token || card.getAttribute("data-answered")) return;
    card.setAttribute("data-answered", "true");
    card.textContent = "";
    var thanks = document.createElement("p");
    thanks.className = "thanks";
    thanks.setAttribute("role", "status");
    thanks.textContent = "Thank you for your rating!";
    card.appendChild(thanks);
    errorEl.textContent = "";
  }

  function describe(c) {
    if (!c || c.status === "none") return state.agentsOnline ? "We're online. Ask us anything." : "We're offline right now.";
    if (c.status === "queued" || c.status === "new" || c.status === "offered") {
      var text = "Waiting for an agent";
      if (c.position) text += " — you are number " + c.position + " in line";
      if (c.estimated_wait_seconds) text += ", about " + Math.max(1, Math.round(c.estimated_wait_seconds / 60)) + " min";
      return text + ".";
    }
    if (c.status === "assigned" || c.status === "waiting") return (c.agent || "An agent") + " is here to help.";
    if (c.status === "resolved" || c.status === "closed" || c.status === "wrap_up") return "This chat has ended. Write again any time.";
    return "";
  }

  function setStatus(c) {
    state.status = c;
    statusEl.textContent = describe(c);
    box.setAttribute("data-status", c ? c.status : "none");
    clearInterval(state.positionTimer);
    if (c && (c.status === "queued" || c.status === "new" || c.status === "offered")) {
      state.positionTimer = setInterval(function () { send({ type: "position" }); }, 10000);
    }
  }

  // ---- Socket --------------------------------------------------------------
  function send(frame) {
    if (state.socket && state.socket.readyState === 1) {
      state.socket.send(JSON.stringify(frame));
      return true;
    }
    return false;
  }

  function hello() {
    var frame = { type: "hello" };
    if (state.token) frame.token = state.token;
    var d = script.dataset;
    if (d.userId && d.userSignature) {
      frame.identity = { user_id: d.userId, signature: d.userSignature, name: d.userName || "", email: d.userEmail || "" };
    }
    send(frame);
  }

  function connect() {
    var socket = new WebSocket(wsUrl);
    state.socket = socket;
    state.welcomed = false;
    socket.onopen = function () { hello(); };
    socket.onmessage = function (e) {
      var data;
      try { data = JSON.parse(e.data); } catch (err) { return; }
      handle(data);
    };
    socket.onclose = function () {
      state.socket = null;
      box.setAttribute("data-connection", "closed");
      statusEl.textContent = "Reconnecting…";
      var delay = Math.min(10000, 1000 * Math.pow(2, state.retry++));
      setTimeout(connect, delay);
    };
  }

  function handle(data) {
    if (data.type === "welcome") {
      state.welcomed = true;
      state.retry = 0;
      state.token = data.token;
      try { window.localStorage.setItem(storeKey, data.token); } catch (e) { /* private mode */ }
      state.agentsOnline = !!data.agents_online;
      state.needsDetails = !!data.needs_details;
      box.setAttribute("data-connection", "live");
      // The server's copy of the conversation replaces what is shown; messages
      // not yet acknowledged follow, still pending.
      log.textContent = "";
      state.seen = {};
      state.survey = null;
      (data.messages || []).forEach(function (m) { addMessage(m); });
      showSurvey(data.survey);
      state.pending.forEach(function (f) {
        if (f.type === "message") addMessage({ direction: "in", text: f.text, clientId: f.id }, true);
      });
      setStatus(data.conversation);
      var open = data.conversation && ["new", "queued", "offered", "assigned", "waiting"].indexOf(data.conversation.status) >= 0;
      if (!open && !state.agentsOnline && !data.survey) show("offline");
      else if (state.needsDetails && !(data.messages || []).length) show("details");
      else show("chat");
      if (state.wantPerson && box.getAttribute("data-view") === "chat") {
        state.wantPerson = false;
        sendMessage("I'd like to talk to a person, please.");
      }
      // Anything not acknowledged before the connection dropped goes again (same id: stored once).
      state.pending.forEach(function (frame) { send(frame); });
    } else if (data.type === "ack") {
      var acked = state.pending.filter(function (f) { return f.id === data.id; })[0];
      state.pending = state.pending.filter(function (f) { return f.id !== data.id; });
      if (acked && acked.type === "offline") {
        offlineForm.hidden = true;
        offlineForm.reset();
        statusEl.textContent = "Thank you! We will answer by email.";
        box.setAttribute("data-view", "sent");
      }
      var el = log.querySelector('[data-client-id="' + (data.id || "").replace(/"/g, "") + '"]');
      if (el) el.classList.remove("pending");
      errorEl.textContent = "";
    } else if (data.type === "error") {
      if (data.id) state.pending = state.pending.filter(function (f) { return f.id !== data.id; });
      errorEl.textContent = data.detail || "Something went wrong.";
    } else if (data.type === "chat.message") {
      addMessage(data.message);
    } else if (data.type === "chat.survey") {
      showSurvey(data.survey);
    } else if (data.type === "survey.answered") {
      surveyAnswered(data.token);
    } else if (data.type === "chat.status") {
      setStatus(data.conversation);
    } else if (data.type === "chat.typing") {
      typingEl.textContent = (data.agent || "The agent") + " is typing…";
      clearTimeout(state.typingTimer);
      state.typingTimer = setTimeout(function () { typingEl.textContent = ""; }, 6000);
    }
  }

  function sendMessage(text) {
    var frame = { type: "message", id: newId(), text: text };
    state.lastTyping = 0;
    state.pending.push(frame);
    addMessage({ direction: "in", text: text, clientId: frame.id }, true);
    send(frame);
  }

  // ---- Forms ---------------------------------------------------------------
  detailsForm.addEventListener("submit", function (e) {
    e.preventDefault();
    send({ type: "details", name: detailsForm.name.value, email: detailsForm.email.value });
  });
  offlineForm.addEventListener("submit", function (e) {
    e.preventDefault();
    var frame = { type: "offline", id: newId(), name: offlineForm.name.value, email: offlineForm.email.value, text: offlineForm.text.value };
    state.pending.push(frame);
    send(frame); // thanked on the server's ack; re-sent on reconnect until then
  });
  compose.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = compose.text.value.trim();
    if (!text) return;
    compose.text.value = "";
    sendMessage(text);
  });
  compose.text.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); compose.requestSubmit(); }
  });
  // The agent sees the customer typing: at most one frame every 3 seconds
  // (and at once when a new message is begun).
  compose.text.addEventListener("input", function () {
    var lastTyping = state.lastTyping || 0;
    var now = Date.now();
    if (!compose.text.value || now - lastTyping < 3000) return;
    if (send({ type: "typing" })) state.lastTyping = now;
  });
  // Always a way to a person: a live chat when someone is online, else a message answered by email.
  $(".person").addEventListener("click", function () {
    box.classList.add("open");
    if (!state.agentsOnline && !(state.status && ["assigned", "waiting", "queued"].indexOf(state.status.status) >= 0)) {
      show("offline");
    } else if (state.needsDetails && !log.children.length) {
      state.wantPerson = true; // asked for once the form is filled
      show("details");
    } else {
      show("chat");
      sendMessage("I'd like to talk to a person, please.");
    }
  });
  $(".launcher").addEventListener("click", function () { box.classList.add("open"); });
  $(".close").addEventListener("click", function () { box.classList.remove("open"); });

  function start() {
    document.body.appendChild(host);
    show("none");
    connect();
  }
  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
