// The markets list: the server renders every row; the tickers channel keeps last price, change and volume live.
(function () {
  "use strict";
  const { percent, changeBps, Feed } = window.Exchange;
  const table = document.getElementById("market-table");

  function apply(ticker) {
    const row = table.querySelector(`tr[data-market="${CSS.escape(ticker.market || "")}"]`);
    if (!row) return;
    const set = (field, text) => {
      // The cell's first text node holds the figure; a unit label may follow it.
      if (text !== undefined) row.querySelector(`[data-field="${field}"]`).firstChild.textContent = text ?? "—";
    };
    set("last", ticker.last);
    set("high", ticker.high);
    set("low", ticker.low);
    if (ticker.volume !== undefined) set("volume", ticker.volume + " ");
    const bps = changeBps(ticker);
    const change = row.querySelector('[data-field="change"]');
    change.textContent = percent(bps);
    change.classList.toggle("text-buy", bps > 0);
    change.classList.toggle("text-sell", bps < 0);
  }

  // The first paint came from the server; the change column is recomputed here so both paths agree.
  window.Exchange.readState("market-list-state").tickers.forEach(apply);

  new Feed({
    statusElement: document.getElementById("feed-status"),
    onMessage(message) {
      if (message.type === "ticker") apply(message);
      else if (message.type === "tickers") (message.tickers || message.data || []).forEach(apply);
    },
  }).subscribe({ channel: "tickers" });
})();
