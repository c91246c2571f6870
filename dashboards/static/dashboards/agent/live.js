// The agent socket (/ws/agent/): requests answered by ack/error with the
// same request_id; pushes go to the handler given to connect().
import { $, toast } from "./dom.js";

const HEARTBEAT_MS = 25000;
let socket = null;
let requestSeq = 0;
let reconnectDelay = 1000;
const pending = new Map();

export function send(type, body) {
  const request_id = ++requestSeq;
  return new Promise((resolve, reject) => {
    if (!socket || socket.readyState !== WebSocket.OPEN) { reject(new Error("not connected")); return; }
    pending.set(request_id, { resolve, reject });
    socket.send(JSON.stringify(Object.assign({ type, request_id }, body || {})));
  });
}

export function setConnection(value) {
  const c = $("connection");
  c.dataset.state = value;
  c.textContent = value === "live" ? "live" : value === "offline" ? "reconnecting…" : "connecting…";
}

function settle(msg, ok) {
  const waiter = pending.get(msg.request_id);
  if (!ok) toast(msg.detail || "That did not work");
  if (!waiter) return;
  pending.delete(msg.request_id);
  ok ? waiter.resolve(msg) : waiter.reject(new Error(msg.detail));
}

function attach(s, onPush) {
  socket = s;
  socket.addEventListener("open", () => { reconnectDelay = 1000; });
  socket.addEventListener("close", (event) => closed(event.code, onPush));
  socket.addEventListener("message", (event) => receive(event.data, onPush));
}

function receive(data, onPush) {
  const msg = JSON.parse(data);
  if (msg.type === "ack") settle(msg, true);
  else if (msg.type === "error") settle(msg, false);
  else onPush(msg);
}

function closed(code, onPush) {
  setConnection("offline");
  if (code === 4401) { location.href = "/accounts/login/?next=/agent/"; return; }
  setTimeout(() => connect(onPush), reconnectDelay);
  reconnectDelay = Math.min(reconnectDelay * 2, 15000);
}

export function connect(onPush) {
  // The first time, the socket boot.js opened while the modules loaded.
  const boot = window.__agentSocket;
  window.__agentSocket = null;
  if (boot) {
    const early = boot.received;
    boot.received = null;
    attach(boot.socket, onPush);
    early.forEach((data) => receive(data, onPush));
    if (boot.closedWith !== null) closed(boot.closedWith, onPush);
    return;
  }
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  setConnection("connecting");
  attach(new WebSocket(`${scheme}://${location.host}/ws/agent/`), onPush);
}

// The heartbeat keeps the agent present; its answer lists the pending
// offers, so a page that missed a push (dropped by a full channel-layer
// buffer) notices within one beat.
let onBeat = () => {};
export function onHeartbeat(callback) { onBeat = callback; }
setInterval(() => {
  if (socket && socket.readyState === WebSocket.OPEN) send("heartbeat").then((ack) => onBeat(ack)).catch(() => {});
}, HEARTBEAT_MS);
