// The trading screen. The server embeds the page's state (#market-state) in the shapes the API and the websocket
// speak; this script draws it, keeps it live from the feed and places and cancels orders through the REST API.
(function () {
  "use strict";
  const { Dec, h, api, rows, Feed, clock, when, percent, changeBps } = window.Exchange;
  const initial = window.Exchange.readState("market-state");
  const market = initial.market;
  const SYMBOL = market.symbol;
  const BASE = market.base;
  const QUOTE = market.quote;
  const LADDER_DEPTH = 12;
  const TAPE_LENGTH = 50;
  const HISTORY_LENGTH = 50;
  const OPEN_STATUSES = ["open", "partially_filled"];
  const $ = (id) => document.getElementById(id);
  const quoteUnits = (text) => Dec.units(text, QUOTE.decimals);
  const baseUnits = (text) => Dec.units(text, BASE.decimals);
  const ONE_BASE = 10n ** BigInt(BASE.decimals);
  const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

  // --- Order book -------------------------------------------------------------------------------------------------
  // Level-2 book keyed by the price string (prices always come formatted to the quote's decimals, so the string is
  // canonical). Deltas apply only in sequence; a gap asks for a fresh snapshot and ignores deltas until it arrives.
  const book = { sequence: 0, bids: new Map(), asks: new Map(), awaitingSnapshot: false };
  const bookSubscription = { channel: "book", market: SYMBOL };

  function loadSnapshot(snapshot) {
    book.sequence = snapshot.sequence;
    book.awaitingSnapshot = false;
    for (const side of ["bids", "asks"]) {
      book[side].clear();
      for (const [price, quantity] of snapshot[side]) if (!Dec.isZero(quantity)) book[side].set(price, quantity);
    }
    scheduleRender();
  }

  function applyDelta(delta) {
    if (book.awaitingSnapshot || delta.sequence <= book.sequence) return; // the snapshot we hold or await covers it
    if (delta.sequence !== book.sequence + 1) {
      book.awaitingSnapshot = true;
      feed.resubscribe(bookSubscription);
      return;
    }
    for (const change of delta.changes) {
      const side = change.side === "buy" || change.side === "bid" || change.side === "bids" ? book.bids : book.asks;
      if (Dec.isZero(change.quantity)) side.delete(change.price);
      else side.set(change.price, change.quantity);
    }
    book.sequence = delta.sequence;
    scheduleRender();
  }

  /** One side's levels, best first, with their cumulative size. */
  function levels(side) {
    const list = [...book[side].entries()].map(([price, quantity]) => ({
      price, quantity, p: quoteUnits(price), q: baseUnits(quantity),
    }));
    list.sort((a, b) => (side === "bids" ? (b.p > a.p ? 1 : -1) : a.p > b.p ? 1 : -1));
    let total = 0n;
    for (const level of list) level.total = total += level.q;
    return list;
  }

  let renderPending = false;
  function scheduleRender() {
    if (renderPending) return;
    renderPending = true;
    requestAnimationFrame(() => {
      renderPending = false;
      const bids = levels("bids");
      const asks = levels("asks");
      renderLadder(bids, asks);
      drawDepth(bids, asks);
      updateSummary();
    });
  }

  function renderLadder(bids, asks) {
    const shownBids = bids.slice(0, LADDER_DEPTH);
    const shownAsks = asks.slice(0, LADDER_DEPTH);
    const deepest = [shownBids, shownAsks].reduce((most, side) => (side.length && side.at(-1).total > most ? side.at(-1).total : most), 1n);
    const row = (level, side) => {
      const depth = Number((level.total * 1000n) / deepest) / 10;
      const label = `${side === "bid" ? "Bid" : "Ask"} ${level.price} ${QUOTE.code} for ${level.quantity} ${BASE.code}: use this price`;
      return h("tr", { className: `level level-${side}`, style: `--depth: ${depth}%`, dataset: { side, price: level.price } },
        h("td", {}, h("button", { type: "button", className: `btn btn-link p-0 book-price text-${side === "bid" ? "buy" : "sell"}`, "aria-label": label, dataset: { side, price: level.price } }, level.price)),
        h("td", { className: "amount" }, level.quantity),
        h("td", { className: "amount text-body-secondary" }, Dec.format(level.total, BASE.decimals)));
    };
    const empty = (text) => h("tr", {}, h("td", { colSpan: 3, className: "text-body-secondary small" }, text));
    $("book-asks").replaceChildren(...(shownAsks.length ? shownAsks.map((l) => row(l, "ask")).reverse() : [empty("No one is selling.")]));
    $("book-bids").replaceChildren(...(shownBids.length ? shownBids.map((l) => row(l, "bid")) : [empty("No one is buying.")]));
    let spread = "Spread —";
    if (bids.length && asks.length) {
      const gap = asks[0].p - bids[0].p;
      const mid = (asks[0].p + bids[0].p) / 2n;
      spread = `Spread ${Dec.format(gap, QUOTE.decimals)} ${QUOTE.code} (${percent(Number((gap * 10000n) / (mid || 1n)), false)})`;
    }
    $("book-spread").textContent = spread;
  }

  $("book").addEventListener("click", (event) => {
    const button = event.target.closest("button.book-price");
    if (button) usePrice(button.dataset.price, button.dataset.side === "ask" ? "buy" : "sell");
  });

  /** A small depth chart: cumulative bids (left) and asks (right) around the spread. */
  function drawDepth(bids, asks) {
    const canvas = $("depth-chart");
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    canvas.width = width * ratio;
    canvas.height = height * ratio;
    const ctx = canvas.getContext("2d");
    ctx.scale(ratio, ratio);
    ctx.clearRect(0, 0, width, height);
    const summary = $("depth-summary");
    if (!bids.length && !asks.length) {
      ctx.fillStyle = css("--bs-secondary-color");
      ctx.font = "12px system-ui, sans-serif";
      ctx.fillText("The book is empty.", 8, height / 2);
      summary.textContent = "The book is empty.";
      return;
    }
    const num = (level) => ({ price: Number(level.price), total: Number(level.total) });
    const b = bids.map(num);
    const a = asks.map(num);
    // Centred on the middle of the spread, wide enough for the deepest level shown on either side.
    const mid = b.length && a.length ? (b[0].price + a[0].price) / 2 : (b[0] || a[0]).price;
    const reach = Math.max(b.length ? mid - b.at(-1).price : 0, a.length ? a.at(-1).price - mid : 0);
    const half = reach * 1.5 || mid * 0.05 || 1;
    const x = (price) => ((price - (mid - half)) / (2 * half)) * width;
    const deepest = Math.max(b.length ? b.at(-1).total : 0, a.length ? a.at(-1).total : 0);
    const axis = 14; // room for the price labels under the areas
    const y = (total) => height - axis - (total / deepest) * (height - axis - 4);
    const area = (points, colour, towards) => {
      if (!points.length) return;
      ctx.beginPath();
      ctx.moveTo(x(points[0].price), y(0));
      let last = 0;
      for (const point of points) {
        ctx.lineTo(x(point.price), y(last));
        ctx.lineTo(x(point.price), y(point.total));
        last = point.total;
      }
      ctx.lineTo(towards, y(last));
      ctx.lineTo(towards, y(0));
      ctx.closePath();
      ctx.globalAlpha = 0.25;
      ctx.fillStyle = colour;
      ctx.fill();
      ctx.globalAlpha = 1;
      ctx.strokeStyle = colour;
      ctx.stroke();
    };
    area(b, css("--bs-success"), 0);
    area(a, css("--bs-danger"), width);
    ctx.fillStyle = css("--bs-secondary-color");
    ctx.font = "11px system-ui, sans-serif";
    ctx.textBaseline = "bottom";
    const label = (price, align) => {
      ctx.textAlign = align;
      ctx.fillText(Dec.format(BigInt(Math.round(price * 10 ** QUOTE.decimals)), QUOTE.decimals), x(price), height);
    };
    label(mid - half, "left");
    label(mid, "center");
    label(mid + half, "right");
    summary.textContent = `Bids total ${Dec.format(bids.at(-1)?.total ?? 0n, BASE.decimals)} ${BASE.code} down to ${bids.at(-1)?.price ?? "—"}; `
      + `asks total ${Dec.format(asks.at(-1)?.total ?? 0n, BASE.decimals)} ${BASE.code} up to ${asks.at(-1)?.price ?? "—"} ${QUOTE.code}.`;
  }

  // --- Ticker -----------------------------------------------------------------------------------------------------
  function applyTicker(ticker) {
    for (const field of ["last", "high", "low", "volume"]) {
      const element = document.querySelector(`[data-ticker="${field}"]`);
      if (element && ticker[field] !== undefined) element.textContent = ticker[field] ?? "—";
    }
    const change = document.querySelector('[data-ticker="change"]');
    const bps = changeBps(ticker);
    change.textContent = percent(bps);
    change.classList.toggle("text-buy", bps > 0);
    change.classList.toggle("text-sell", bps < 0);
  }

  // --- Trade tape -------------------------------------------------------------------------------------------------
  let tape = [];

  function tapeRow(trade) {
    const buy = trade.taker_side === "buy";
    return h("tr", { dataset: { tradeId: trade.id } },
      h("td", { className: `amount text-start ${buy ? "text-buy" : "text-sell"}` },
        `${buy ? "▲" : "▼"} ${trade.price}`, h("span", { className: "visually-hidden" }, buy ? " bought" : " sold")),
      h("td", { className: "amount" }, trade.quantity),
      h("td", { className: "amount text-body-secondary" }, clock(trade.time)));
  }

  function setTape(trades) {
    tape = trades.slice(0, TAPE_LENGTH);
    const body = $("tape").tBodies[0];
    body.replaceChildren(...(tape.length ? tape.map(tapeRow) : [h("tr", {}, h("td", { colSpan: 3, className: "text-body-secondary small" }, "No trades yet."))]));
  }

  function addTrade(trade) {
    if (tape.some((t) => t.id === trade.id)) return;
    const body = $("tape").tBodies[0];
    if (!tape.length) body.replaceChildren();
    tape.unshift(trade);
    body.prepend(tapeRow(trade)); // prepend one row, so screen readers announce just the new trade
    while (tape.length > TAPE_LENGTH) {
      tape.pop();
      body.lastElementChild.remove();
    }
    const last = document.querySelector('[data-ticker="last"]');
    last.textContent = trade.price;
  }

  // --- Price chart ------------------------------------------------------------------------------------------------
  const chartElement = $("price-chart");
  let interval = initial.interval;
  const chart = LightweightCharts.createChart(chartElement, {
    autoSize: true,
    layout: { background: { type: "solid", color: "transparent" }, textColor: css("--bs-body-color"), fontSize: 11 },
    grid: { vertLines: { color: css("--bs-border-color-translucent") }, horzLines: { color: css("--bs-border-color-translucent") } },
    rightPriceScale: { borderVisible: false },
    timeScale: { borderVisible: false, timeVisible: true, secondsVisible: false, rightOffset: 6, barSpacing: 9 },
  });
  const up = css("--bs-success");
  const down = css("--bs-danger");
  const minMove = Number(market.tick);
  const candleSeries = chart.addSeries(LightweightCharts.CandlestickSeries, {
    upColor: up, downColor: down, wickUpColor: up, wickDownColor: down, borderVisible: false,
    priceFormat: { type: "price", precision: QUOTE.decimals, minMove },
  });
  candleSeries.priceScale().applyOptions({ scaleMargins: { top: 0.1, bottom: 0.28 } });
  const volumeSeries = chart.addSeries(LightweightCharts.HistogramSeries, {
    priceFormat: { type: "volume" }, priceScaleId: "", lastValueVisible: false, priceLineVisible: false,
  });
  volumeSeries.priceScale().applyOptions({ scaleMargins: { top: 0.78, bottom: 0 } });

  const seconds = (time) => (typeof time === "number" ? time : Math.floor(Date.parse(time) / 1000));
  const bar = (c) => ({ time: seconds(c.time), open: Number(c.open), high: Number(c.high), low: Number(c.low), close: Number(c.close) });
  const volumeBar = (c) => ({ time: seconds(c.time), value: Number(c.volume), color: Number(c.close) >= Number(c.open) ? up + "80" : down + "80" });

  function setCandles(candles) {
    candleSeries.setData(candles.map(bar));
    volumeSeries.setData(candles.map(volumeBar));
    chartElement.dataset.candles = candles.length;
    $("chart-empty").hidden = candles.length > 0;
    if (candles.length) markLastCandle(candles.at(-1));
    chart.timeScale().scrollToRealTime();
  }

  function updateCandle(candle) {
    try {
      candleSeries.update(bar(candle));
      volumeSeries.update(volumeBar(candle));
    } catch (error) {
      return; // older than the last bar drawn: the chart already holds something newer
    }
    $("chart-empty").hidden = true;
    markLastCandle(candle);
  }

  /** The newest bar, in the attributes too: what the chart shows, readable without a canvas (and by tests). */
  function markLastCandle(candle) {
    const { time, open, high, low, close, volume } = candle;
    chartElement.dataset.lastCandle = JSON.stringify({ time: seconds(time), open, high, low, close, volume });
    chartElement.setAttribute("aria-label", `Candlestick chart of ${SYMBOL}, ${interval} bars; latest open ${open}, high ${high}, low ${low}, close ${close} ${QUOTE.code}, volume ${volume} ${BASE.code}`);
  }

  async function loadCandles() {
    const wanted = interval;
    const response = await api("GET", `/markets/${SYMBOL}/candles?interval=${wanted}&limit=300`);
    if (response.ok && wanted === interval) setCandles(rows(response.data));
  }

  document.getElementById("interval-switch").addEventListener("change", (event) => {
    feed.unsubscribe({ channel: "candles", market: SYMBOL, interval });
    interval = event.target.value;
    feed.subscribe({ channel: "candles", market: SYMBOL, interval });
    loadCandles();
  });

  // Follow the light/dark switch.
  new MutationObserver(() => {
    const colour = css("--bs-border-color-translucent");
    chart.applyOptions({ layout: { textColor: css("--bs-body-color") }, grid: { vertLines: { color: colour }, horzLines: { color: colour } } });
    scheduleRender();
  }).observe(document.documentElement, { attributes: true, attributeFilter: ["data-bs-theme"] });

  // --- Your orders, fills and balances ------------------------------------------------------------------------------
  const me = initial.user;
  const mine = { open: new Map(), closed: [], fills: [], balances: new Map() };

  function setPrivate({ open, closed, fills, balances }) {
    if (open) mine.open = new Map(open.map((o) => [o.id, o]));
    if (closed) mine.closed = closed.slice(0, HISTORY_LENGTH);
    if (fills) mine.fills = fills.slice(0, HISTORY_LENGTH);
    if (balances) for (const b of balances) if (b.currency === BASE.code || b.currency === QUOTE.code) mine.balances.set(b.currency, b);
    renderPrivate();
  }

  function applyOrder(order) {
    if (order.market && order.market !== SYMBOL) return;
    const known = mine.open.get(order.id) || mine.closed.find((o) => o.id === order.id) || {};
    const merged = { ...known, ...order };
    if (OPEN_STATUSES.includes(merged.status)) {
      mine.open.set(merged.id, merged);
    } else {
      mine.open.delete(merged.id);
      mine.closed = [merged, ...mine.closed.filter((o) => o.id !== merged.id)].slice(0, HISTORY_LENGTH);
    }
    renderPrivate();
  }

  const statusText = (status) => (status || "").replace("_", " ");
  const sideCell = (side) => h("td", { className: side === "buy" ? "text-buy" : "text-sell" }, side === "buy" ? "Buy" : "Sell");

  function renderPrivate() {
    if (!me) return;
    const open = [...mine.open.values()].sort((a, b) => b.id - a.id);
    const none = (columns, text) => h("tr", {}, h("td", { colSpan: columns, className: "text-body-secondary small" }, text));
    $("open-orders").tBodies[0].replaceChildren(...(open.length ? open.map((o) => h("tr", { dataset: { orderId: o.id } },
      h("td", {}, when(o.created_at)), sideCell(o.side), h("td", {}, o.type || ""),
      h("td", { className: "amount" }, o.price ?? "market"), h("td", { className: "amount" }, o.quantity ?? "—"),
      h("td", { className: "amount" }, o.filled_quantity), h("td", {}, statusText(o.status)),
      h("td", { className: "text-end" }, h("button", { type: "button", className: "btn btn-sm btn-outline-danger cancel-order", dataset: { orderId: o.id }, "aria-label": `Cancel ${o.side} ${o.quantity ?? ""} at ${o.price ?? "market"}` }, "Cancel"))))
      : [none(8, "No open orders.")]));
    $("open-count").textContent = open.length;
    $("cancel-all").disabled = !open.length;
    $("closed-orders").tBodies[0].replaceChildren(...(mine.closed.length ? mine.closed.map((o) => h("tr", { dataset: { orderId: o.id } },
      h("td", {}, when(o.created_at || o.updated_at)), sideCell(o.side), h("td", {}, o.type || ""),
      h("td", { className: "amount" }, o.price ?? "market"), h("td", { className: "amount" }, o.quantity ?? "—"),
      h("td", { className: "amount" }, o.filled_quantity), h("td", {}, statusText(o.status) + (o.reason && o.reason !== o.status ? ` (${o.reason.replace("_", " ")})` : ""))))
      : [none(7, "No closed orders yet.")]));
    $("fills").tBodies[0].replaceChildren(...(mine.fills.length ? mine.fills.map((f) => h("tr", { dataset: { fillId: f.id } },
      h("td", {}, when(f.time || f.created_at)), sideCell(f.side), h("td", { className: "amount" }, f.price),
      h("td", { className: "amount" }, f.quantity), h("td", { className: "amount" }, f.fee ? `${f.fee} ${f.fee_currency || ""}` : "—"),
      h("td", {}, f.liquidity || "")))
      : [none(6, "No fills yet.")]));
    $("balances").tBodies[0].replaceChildren(...[BASE, QUOTE].map((currency) => {
      const b = mine.balances.get(currency.code) || { available: Dec.format(0n, currency.decimals), held: Dec.format(0n, currency.decimals) };
      return h("tr", { dataset: { currency: currency.code } }, h("th", { scope: "row" }, currency.code),
        h("td", { className: "amount", dataset: { field: "available" } }, b.available), h("td", { className: "amount", dataset: { field: "held" } }, b.held));
    }));
    updateSummary();
  }

  let refreshTimer = null;
  /** Re-read your orders, fills and balances (after your own actions and after a reconnect: the feed may have gaps). */
  function refreshPrivate() {
    if (!me) return;
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(async () => {
      const [open, closed, fills, balances] = await Promise.all([
        api("GET", `/orders?market=${SYMBOL}&status=open`),
        api("GET", `/orders?market=${SYMBOL}&status=closed`),
        api("GET", `/fills?market=${SYMBOL}`),
        api("GET", "/balances"),
      ]);
      const ok = (response) => (response.ok ? rows(response.data) : undefined);
      setPrivate({ open: ok(open), closed: ok(closed), fills: ok(fills), balances: ok(balances) });
    }, 150);
  }

  async function refreshPublic() {
    const [trades, ticker] = await Promise.all([api("GET", `/markets/${SYMBOL}/trades?limit=${TAPE_LENGTH}`), api("GET", `/markets/${SYMBOL}/ticker`)]);
    if (trades.ok) setTape(rows(trades.data));
    if (ticker.ok) applyTicker(ticker.data);
    loadCandles();
  }

  // --- Order entry ------------------------------------------------------------------------------------------------
  const form = $("order-form");

  function order() {
    const data = new FormData(form);
    return {
      side: data.get("side"), type: data.get("type"), price: (data.get("price") || "").trim(),
      quantity: (data.get("quantity") || "").trim(), quote_budget: (data.get("quote_budget") || "").trim(),
      time_in_force: data.get("time_in_force"), post_only: data.get("post_only") === "on",
    };
  }

  /** Show the fields that apply to this side and type. */
  function syncForm() {
    const o = order();
    for (const element of form.querySelectorAll("[data-when]")) {
      const rule = element.dataset.when;
      element.hidden = rule === "limit" ? o.type !== "limit" : !(o.type === "market" && o.side === "buy");
    }
    $("order-post-only").disabled = o.time_in_force !== "gtc";
    const button = $("order-submit");
    button.textContent = `${o.side === "buy" ? "Buy" : "Sell"} ${BASE.code}`;
    button.className = `btn w-100 ${o.side === "buy" ? "btn-success" : "btn-danger"}`;
    updateSummary();
  }

  /** What a market order would trade against the current book: base filled and quote spent, best levels first. */
  function walk(levelsBestFirst, { quantity = null, budget = null }) {
    let filled = 0n, spent = 0n;
    for (const level of levelsBestFirst) {
      let take = quantity === null ? level.q : level.q < quantity - filled ? level.q : quantity - filled;
      if (budget !== null && spent + (take * level.p) / ONE_BASE > budget) take = ((budget - spent) * ONE_BASE) / level.p;
      filled += take;
      spent += (take * level.p) / ONE_BASE;
      if ((quantity !== null && filled >= quantity) || (budget !== null && spent >= budget) || take < level.q) break;
    }
    return { filled, spent };
  }

  /** Available balance, total and fee, computed exactly as the server settles (floor division, fee in bps). */
  function updateSummary() {
    if (!form) return;
    const o = order();
    const paying = o.side === "buy" ? QUOTE : BASE;
    const balance = mine.balances.get(paying.code);
    const available = balance ? Dec.units(balance.available, paying.decimals) : 0n;
    $("order-available").textContent = `${Dec.format(available, paying.decimals)} ${paying.code}`;
    const quantity = baseUnits(o.quantity);
    const bps = BigInt(market.taker_fee_bps);
    let spend = null, total = null, fee = null, estimate = "";
    if (o.type === "limit") {
      const price = quoteUnits(o.price);
      if (quantity !== null && price !== null) {
        total = (quantity * price) / ONE_BASE;
        fee = o.side === "buy" ? [(quantity * bps) / 10000n, BASE] : [(total * bps) / 10000n, QUOTE];
        spend = o.side === "buy" ? total : quantity;
      }
    } else if (o.side === "sell") {
      if (quantity !== null) {
        total = walk(levels("bids"), { quantity }).spent;
        fee = [(total * bps) / 10000n, QUOTE];
        spend = quantity;
        estimate = "≈ ";
      }
    } else {
      const budget = quoteUnits(o.quote_budget);
      if (budget !== null) {
        const { filled, spent } = walk(levels("asks"), { quantity, budget });
        total = spent;
        fee = [(filled * bps) / 10000n, BASE];
        spend = budget;
        estimate = "≈ ";
      }
    }
    const totalElement = $("order-total");
    totalElement.textContent = total === null ? "—" : `${estimate}${Dec.format(total, QUOTE.decimals)} ${QUOTE.code}`;
    if (estimate && total === 0n) totalElement.textContent = `nothing: no one is ${o.side === "buy" ? "selling" : "buying"}`;
    $("order-fee").textContent = fee === null ? "—" : `${estimate}${Dec.format(fee[0], fee[1].decimals)} ${fee[1].code}`;
    const tooMuch = spend !== null && spend > available;
    totalElement.classList.toggle("text-danger", tooMuch);
    $("order-total-label").textContent = tooMuch ? "Total — more than available" : "Total";
  }

  function usePrice(price, side) {
    if (!form) return;
    form.elements.type.value = "limit";
    form.elements.side.value = side;
    form.elements.price.value = price;
    syncForm();
    form.elements.quantity.focus();
  }

  function clearErrors() {
    for (const input of form.querySelectorAll(".is-invalid")) input.classList.remove("is-invalid");
    $("order-error").hidden = true;
  }

  /** Put the API's field errors under their inputs, and its message in the form's alert. */
  function showErrors(error) {
    let first = null;
    const unplaced = [];
    for (const [field, messages] of Object.entries(error.fields || {})) {
      const input = form.elements[field];
      const feedback = $(`order-${field}-error`);
      const text = [].concat(messages).join(" ");
      if (input && feedback && !input.closest("[hidden]")) {
        input.classList.add("is-invalid");
        feedback.textContent = text;
        first = first || input;
      } else {
        unplaced.push(text);
      }
    }
    const alert = $("order-error");
    alert.textContent = [error.message, ...unplaced].filter(Boolean).join(" ");
    alert.dataset.code = error.code || "";
    alert.hidden = false;
    (first || alert).focus?.();
  }

  if (form) {
    form.addEventListener("input", () => updateSummary());
    form.addEventListener("change", syncForm);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors();
      const o = order();
      const body = { market: SYMBOL, side: o.side, type: o.type };
      if (o.type === "limit") Object.assign(body, { price: o.price, quantity: o.quantity, time_in_force: o.time_in_force, post_only: o.post_only });
      else if (o.side === "sell") body.quantity = o.quantity;
      else {
        body.quote_budget = o.quote_budget;
        if (o.quantity) body.quantity = o.quantity;
      }
      const button = $("order-submit");
      button.disabled = true;
      const response = await api("POST", "/orders", body);
      button.disabled = false;
      if (!response.ok) {
        showErrors(response.data.error);
        return;
      }
      const placed = response.data;
      applyOrder(placed);
      $("order-status").textContent = `Order ${placed.id} placed: ${placed.side} ${placed.quantity ?? ""} ${BASE.code} — ${statusText(placed.status)}.`;
      form.elements.quantity.value = "";
      form.elements.quote_budget.value = "";
      updateSummary();
      refreshPrivate();
    });
    syncForm();
  }

  async function cancel(path, button) {
    button.disabled = true;
    const response = await api("DELETE", path);
    const alert = $("orders-error");
    alert.hidden = response.ok;
    if (!response.ok) {
      button.disabled = false;
      alert.textContent = response.data.error.message;
      return;
    }
    for (const cancelled of rows(response.data)) applyOrder(cancelled);
    if (response.data && response.data.id) applyOrder(response.data);
    refreshPrivate();
  }

  if (me) {
    $("open-orders").addEventListener("click", (event) => {
      const button = event.target.closest("button.cancel-order");
      if (button) cancel(`/orders/${button.dataset.orderId}`, button);
    });
    $("cancel-all").addEventListener("click", (event) => cancel(`/orders?market=${SYMBOL}`, event.currentTarget));
  }

  // --- Live feed --------------------------------------------------------------------------------------------------
  const handlers = {
    "book.snapshot": loadSnapshot,
    "book.delta": applyDelta,
    trade: addTrade,
    ticker: applyTicker,
    candle: (c) => c.interval === interval && updateCandle(c),
    // A private message's own "type" names the message; an order's type (limit/market) must not be overwritten.
    order: ({ type, ...order }) => applyOrder(order),
    fill: ({ type, ...fill }) => {
      if (mine.fills.some((f) => f.id === fill.id)) return;
      mine.fills.unshift(fill);
      renderPrivate();
    },
    balance: ({ type, ...balance }) => setPrivate({ balances: [balance] }),
    error: (e) => console.warn("feed:", e.code, e.message),
  };
  const feed = new Feed({
    statusElement: $("feed-status"),
    onMessage(message) {
      if (message.market && message.market !== SYMBOL) return;
      handlers[message.type]?.(message);
    },
    onOpen(reconnected) {
      // The subscriptions bring a fresh book snapshot; what else was missed while away is read once over REST.
      if (reconnected) {
        refreshPublic();
        refreshPrivate();
      }
    },
  });
  for (const channel of ["book", "trades", "ticker"]) feed.subscribe({ channel, market: SYMBOL });
  feed.subscribe({ channel: "candles", market: SYMBOL, interval });
  if (me) {
    feed.subscribe({ channel: "orders", market: SYMBOL });
    feed.subscribe({ channel: "fills", market: SYMBOL });
    feed.subscribe({ channel: "balances" });
  }

  // --- First frame, from the embedded state -------------------------------------------------------------------------
  loadSnapshot(initial.book);
  setTape(initial.trades);
  applyTicker(initial.ticker);
  setCandles(initial.candles);
  if (me) setPrivate({ open: me.open_orders, closed: me.closed_orders, fills: me.fills, balances: me.balances });
  window.addEventListener("resize", scheduleRender);
})();
