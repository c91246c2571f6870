// A classic script that runs before the page's modules have loaded: it opens
// the agent socket at once, so the handshake and the snapshot overlap with
// loading the modules; live.js adopts the socket and what it has received.
(function () {
  "use strict";
  var scheme = location.protocol === "https:" ? "wss" : "ws";
  var socket = new WebSocket(scheme + "://" + location.host + "/ws/agent/");
  var boot = { socket: socket, received: [], closedWith: null };
  socket.addEventListener("message", function (event) { if (boot.received) boot.received.push(event.data); });
  socket.addEventListener("close", function (event) { boot.closedWith = event.code; });
  window.__agentSocket = boot;
})();
