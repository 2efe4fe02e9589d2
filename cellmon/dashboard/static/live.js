// One WebSocket to /ws, subscribed to one class channel at a time. It reconnects by itself
// with exponential back-off and jitter (a class of laptops coming back on the same Wi-Fi must
// not reconnect in lock-step), and calls onSync after every (re)subscription so that the page
// re-reads the class and closes any gap in what it heard.

const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 15000;
// A socket that has heard nothing, not even the answer to our ping, for this long is dead
// (a laptop that slept, a Wi-Fi that changed): close it and reconnect.
const PING_EVERY_MS = 20000;
const SILENCE_LIMIT_MS = 50000;

export class LiveChannel {
  constructor({ onMessage, onSync, onStatus, onClose }) {
    this.onMessage = onMessage;
    this.onSync = onSync;
    this.onStatus = onStatus;
    this.onClose = onClose;
    this.channel = null;
    this.socket = null;
    this.attempt = 0;
    this.retryTimer = null;
    this.lastHeard = 0;
    setInterval(() => this.checkAlive(), PING_EVERY_MS);
  }

  checkAlive() {
    const socket = this.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    if (Date.now() - this.lastHeard > SILENCE_LIMIT_MS) socket.close();
    else this.send({ action: "ping" });
  }

  follow(channel) {
    const previous = this.channel;
    this.channel = channel;
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      if (previous) this.send({ action: "unsubscribe", channels: [previous] });
      this.send({ action: "subscribe", channels: [channel] });
    } else if (!this.socket) {
      this.connect();
    }
  }

  // Follow no channel (the class cannot be shown); the socket stays for the next one.
  leave() {
    const previous = this.channel;
    this.channel = null;
    if (previous) this.send({ action: "unsubscribe", channels: [previous] });
    this.onStatus("idle");
  }

  // Close the socket and stay closed, without the close's usual check and reconnect (the
  // page is signing out: the server ends the session's sockets itself).
  stop() {
    clearTimeout(this.retryTimer);
    const socket = this.socket;
    this.socket = null;
    socket?.close();
  }

  connect() {
    clearTimeout(this.retryTimer);
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${location.host}/ws`);
    this.socket = socket;
    this.onStatus(this.attempt === 0 ? "connecting" : "reconnecting");
    socket.addEventListener("open", () => {
      this.attempt = 0;
      this.lastHeard = Date.now();
      if (this.channel) this.send({ action: "subscribe", channels: [this.channel] });
      else this.onStatus("idle");
    });
    socket.addEventListener("message", (event) => this.receive(event.data));
    socket.addEventListener("close", () => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.onClose();
      this.scheduleReconnect();
    });
    // An error is always followed by close, which reconnects.
  }

  scheduleReconnect() {
    const ceiling = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** this.attempt);
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this.attempt += 1;
    this.onStatus("offline", delay);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  receive(raw) {
    this.lastHeard = Date.now();
    let message;
    try {
      message = JSON.parse(raw);
    } catch {
      return;
    }
    if (!message || typeof message !== "object") return;
    if (message.type === "subscribed") {
      if (Array.isArray(message.channels) && message.channels.includes(this.channel)) {
        this.onStatus("live");
        this.onSync();
      }
      return;
    }
    // Pongs, errors and messages of a class left a moment ago carry no news for this page.
    if (message.channel !== this.channel) return;
    this.onMessage(message);
  }

  send(payload) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify(payload));
    }
  }
}
