// Shared by the market pages: exact decimal arithmetic, the REST client, the live feed and small DOM helpers.
// Plain script (no build step); everything hangs off window.Exchange.
(function () {
  "use strict";

  // --- Amounts ----------------------------------------------------------------------------------------------------
  // The API speaks decimal strings; totals and fees are computed on BigInt minor units so the screen never shows
  // a float rounding the server would not make.
  const PLAIN_DECIMAL = /^\s*(\d+)(?:\.(\d*))?\s*$/;

  const Dec = {
    /** "12.5" -> 1250n for 2 decimals; null if it is not a plain decimal or has too many places. */
    units(text, decimals) {
      const match = PLAIN_DECIMAL.exec(text ?? "");
      if (!match) return null;
      const fraction = match[2] || "";
      if (fraction.length > decimals) return null;
      return BigInt(match[1] + fraction.padEnd(decimals, "0"));
    },
    format(units, decimals) {
      const sign = units < 0n ? "-" : "";
      const digits = (units < 0n ? -units : units).toString().padStart(decimals + 1, "0");
      if (decimals === 0) return sign + digits;
      return `${sign}${digits.slice(0, -decimals)}.${digits.slice(-decimals)}`;
    },
    isZero(text) {
      return !/[1-9]/.test(text ?? "");
    },
  };

  /** Basis points as "+1.25%" (a dash when unknown), the same text the server renders. */
  function percent(bps, signed = true) {
    if (bps === null || bps === undefined) return "—";
    const abs = Math.abs(bps);
    const sign = bps < 0 ? "-" : bps > 0 && signed ? "+" : "";
    return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, "0")}%`;
  }

  /** A ticker's change in basis points, from change_bps (the pages) or change_percent (the API and the feed). */
  function changeBps(ticker) {
    if (typeof ticker.change_bps === "number") return ticker.change_bps;
    if (typeof ticker.change_percent === "string") return Math.round(Number(ticker.change_percent) * 100);
    const last = Number(ticker.last), open = Number(ticker.open);
    if (!ticker.last || !open) return null;
    return Math.trunc(((last - open) * 10000) / open);
  }

  // --- REST -------------------------------------------------------------------------------------------------------
  function cookie(name) {
    const found = document.cookie.split("; ").find((part) => part.startsWith(name + "="));
    return found ? decodeURIComponent(found.slice(name.length + 1)) : "";
  }

  /**
   * Call the API with the session cookie and the CSRF header. Resolves to {ok, status, data}; a failed request
   * comes back as the API's error shape, so callers have one path for showing errors.
   */
  async function api(method, path, body) {
    const options = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (method !== "GET") options.headers["X-CSRFToken"] = cookie("csrftoken");
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch("/api/v1" + path, options);
    } catch (error) {
      return { ok: false, status: 0, data: { error: { code: "network_error", message: "The exchange could not be reached. Check your connection and try again." } } };
    }
    let data = null;
    if (response.status !== 204) {
      try {
        data = await response.json();
      } catch (error) {
        data = null;
      }
    }
    if (!response.ok && !(data && data.error)) {
      data = { error: { code: "http_" + response.status, message: `The exchange answered ${response.status}.` } };
    }
    return { ok: response.ok, status: response.status, data };
  }

  /** A list endpoint's rows, whether or not it is wrapped in a cursor page. */
  function rows(data) {
    if (Array.isArray(data)) return data;
    return (data && (data.results || data.data)) || [];
  }

  // --- Live feed --------------------------------------------------------------------------------------------------
  /**
   * One websocket to /ws/v1 that keeps its subscriptions across reconnects. It reconnects with exponential backoff
   * (and jitter, so a restarted server is not hit by every browser at once), and treats a silent socket — no
   * message or heartbeat for a minute — as dead.
   */
  class Feed {
    constructor({ onMessage, onOpen, statusElement }) {
      this.onMessage = onMessage;
      this.onOpen = onOpen || (() => {});
      this.statusElement = statusElement;
      this.subscriptions = new Map();
      this.delay = 1000;
      this.opened = 0;
      this.connect();
    }

    subscribe(subscription) {
      this.subscriptions.set(JSON.stringify(subscription), subscription);
      this.send({ op: "subscribe", ...subscription });
    }

    unsubscribe(subscription) {
      this.subscriptions.delete(JSON.stringify(subscription));
      this.send({ op: "unsubscribe", ...subscription });
    }

    /** Ask again, e.g. for a fresh book snapshot after a gap in the sequence. */
    resubscribe(subscription) {
      this.send({ op: "subscribe", ...subscription });
    }

    send(message) {
      if (this.socket && this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
    }

    connect() {
      const scheme = location.protocol === "https:" ? "wss" : "ws";
      this.status("connecting");
      const socket = new WebSocket(`${scheme}://${location.host}/ws/v1`);
      this.socket = socket;
      socket.addEventListener("open", () => {
        this.delay = 1000;
        this.opened += 1;
        this.status("live");
        for (const subscription of this.subscriptions.values()) this.send({ op: "subscribe", ...subscription });
        this.onOpen(this.opened > 1);
        this.watch();
      });
      socket.addEventListener("message", (event) => {
        this.watch();
        let message;
        try {
          message = JSON.parse(event.data);
        } catch (error) {
          return;
        }
        if (message.type === "heartbeat") return;
        this.onMessage(message);
      });
      socket.addEventListener("close", () => {
        if (this.socket !== socket) return;
        clearTimeout(this.watchdog);
        this.status("reconnecting");
        const wait = this.delay * (0.75 + Math.random() / 2);
        this.delay = Math.min(this.delay * 2, 30000);
        setTimeout(() => this.connect(), wait);
      });
    }

    watch() {
      clearTimeout(this.watchdog);
      this.watchdog = setTimeout(() => this.socket.close(), 60000);
    }

    status(state) {
      const badge = this.statusElement;
      if (!badge) return;
      const looks = { connecting: ["text-bg-secondary", "Connecting…"], live: ["text-bg-success", "Live"], reconnecting: ["text-bg-warning", "Reconnecting…"] };
      badge.dataset.state = state;
      badge.className = "badge rounded-pill " + looks[state][0];
      badge.textContent = looks[state][1];
    }
  }

  // --- DOM --------------------------------------------------------------------------------------------------------
  /** Build an element: h("td", {className: "amount"}, "12.50", child). Text is always set as text, never HTML. */
  function h(tag, props, ...children) {
    const element = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "dataset") Object.assign(element.dataset, value);
      else if (key in element && key !== "role" && !key.startsWith("aria")) element[key] = value;
      else element.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child !== null && child !== undefined && child !== false) element.append(child);
    }
    return element;
  }

  /** Time of day (UTC, like the rest of the site) for a trade or an order. */
  function clock(iso) {
    if (!iso) return "";
    const date = new Date(typeof iso === "number" ? iso * 1000 : iso);
    return Number.isNaN(date.getTime()) ? "" : date.toISOString().slice(11, 19);
  }

  function when(iso) {
    if (!iso) return "";
    const date = new Date(iso);
    return Number.isNaN(date.getTime()) ? "" : date.toISOString().slice(0, 19).replace("T", " ");
  }

  function readState(id) {
    return JSON.parse(document.getElementById(id).textContent);
  }

  window.Exchange = { Dec, percent, changeBps, api, rows, Feed, h, clock, when, readState };
})();
