"""Two traders in two browsers on the live trading screen, served by the real ASGI server on PostgreSQL and Redis."""

import json
import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from playwright.sync_api import expect

from ledger.models import Account
from markets import services as markets
from markets.models import Market, Order
from tests.browser.conftest import DESKTOP, PHONE
from tests.conftest import fund, make_currency, make_user
from tests.helpers import assert_audit_passes, ledger_state

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PAGE = "/markets/GOLD-BUCK/"


@pytest.fixture
def market():
    """GOLD (3 decimals) against BUCK (2): lot 0.100 GOLD, tick 0.10 BUCK, taker fee 0.10 %."""
    issuer = make_user("issuer")
    gold = make_currency(issuer, "GOLD", decimals=3)
    buck = make_currency(issuer, "BUCK", decimals=2)
    return markets.market_create(user=issuer, base=gold, quote=buck, taker_fee_bps=10)


def trader(name: str, market: Market, gold: int = 100_000, buck: int = 1_000_000):
    user = make_user(name)
    fund(user, market.base, gold)
    fund(user, market.quote, buck)
    return user


def place_directly(user, market, side: str, quantity: int, price: int) -> None:
    """Place an order through the service, as another client would, in a thread of its own.

    Playwright's event loop runs in the test's thread, and the service's after-commit publish (async_to_sync)
    refuses to run beside a running loop.
    """

    def run():
        try:
            request = markets.OrderRequest(side=side, type="limit", quantity=quantity, price=price)
            markets.order_place(user=user, market_id=market.pk, request=request)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(run).result()


def open_market(open_page, user=None, viewport=DESKTOP, init_script=None):
    page = open_page(user, viewport=viewport, path=PAGE, init_script=init_script)
    expect(page.locator("#feed-status")).to_have_attribute("data-state", "live")
    return page


def place(page, side: str, price: str, quantity: str) -> None:
    page.click(f"label[for=side-{side}]")
    page.click("label[for=type-limit]")
    page.fill("#order-price", price)
    page.fill("#order-quantity", quantity)
    page.click("#order-submit")


def ask_level(page, price: str):
    return page.locator(f"#book-asks tr[data-price='{price}']")


def shown_balance(page, currency: str, field: str):
    return page.locator(f"#balances tr[data-currency='{currency}'] td[data-field='{field}']")


def formatted(user, currency, field: str) -> str:
    account = Account.objects.get(user=user, currency=currency, kind="user")
    return currency.format(getattr(account, field))


def test_two_traders_trade_live(open_page, market, artifacts):
    seller, buyer = trader("seller", market), trader("buyer", market)
    seller_page = open_market(open_page, seller)
    buyer_page = open_market(open_page, buyer, viewport=PHONE)  # the whole flow works at phone width too
    pages = (seller_page, buyer_page)

    # The seller's ask reaches the buyer's book without a reload.
    place(seller_page, "sell", "25.00", "2.000")
    expect(ask_level(buyer_page, "25.00").locator("td").nth(1)).to_have_text("2.000")
    expect(seller_page.locator("#open-orders tbody tr[data-order-id]")).to_have_count(1)
    expect(shown_balance(seller_page, "GOLD", "held")).to_have_text("2.000")

    # Clicking the level takes its price; the form shows cost and fee before sending.
    buyer_page.locator("#book-asks button[data-price='25.00']").click()
    expect(buyer_page.locator("#order-price")).to_have_value("25.00")
    expect(buyer_page.locator("#order-quantity")).to_be_focused()
    buyer_page.fill("#order-quantity", "1.000")
    expect(buyer_page.locator("#order-total")).to_have_text("25.00 BUCK")
    expect(buyer_page.locator("#order-fee")).to_have_text("0.001 GOLD")
    expect(buyer_page.locator("#order-available")).to_have_text("10000.00 BUCK")
    buyer_page.click("#order-submit")

    # Both see the trade on the tape, the candle, what is left of the ask; each sees their own orders and money.
    for page in pages:
        first_trade = page.locator("#tape tbody tr").first
        expect(first_trade).to_contain_text("25.00")
        expect(first_trade).to_contain_text("1.000")
        expect(ask_level(page, "25.00").locator("td").nth(1)).to_have_text("1.000")
        expect(page.locator("[data-ticker=last]")).to_have_text("25.00")
        expect(page.locator("#price-chart")).to_have_attribute("data-last-candle", re.compile('"close":"25.00"'))
        candle = json.loads(page.locator("#price-chart").get_attribute("data-last-candle"))
        assert (candle["open"], candle["high"], candle["low"], candle["close"], candle["volume"]) == (
            "25.00", "25.00", "25.00", "25.00", "1.000"
        )
    seller_order = seller_page.locator("#open-orders tbody tr").first
    expect(seller_order).to_contain_text("partially filled")
    expect(seller_order.locator("td").nth(5)).to_have_text("1.000")
    expect(buyer_page.locator("#open-orders tbody")).to_contain_text("No open orders.")
    buyer_page.click("#tab-history")
    expect(buyer_page.locator("#closed-orders tbody tr").first).to_contain_text("filled")
    buyer_page.click("#tab-fills")
    expect(buyer_page.locator("#fills tbody tr").first).to_contain_text("0.001 GOLD")
    for page, user in ((seller_page, seller), (buyer_page, buyer)):
        for currency in (market.base, market.quote):
            for field in ("available", "held"):
                expect(shown_balance(page, currency.code, field)).to_have_text(formatted(user, currency, field))
    assert formatted(buyer, market.base, "available") == "100.999"  # 1.000 bought less the 0.001 taker fee

    seller_page.screenshot(path=artifacts / "market-desktop.png", full_page=True)
    buyer_page.screenshot(path=artifacts / "market-phone.png", full_page=True)

    # The seller cancels the rest: it leaves both books and the seller's holds.
    seller_page.locator("#open-orders button.cancel-order").click()
    for page in pages:
        expect(ask_level(page, "25.00")).to_have_count(0)
        expect(page.locator("#book-asks")).to_contain_text("No one is selling.")
    expect(seller_page.locator("#open-orders tbody")).to_contain_text("No open orders.")
    expect(shown_balance(seller_page, "GOLD", "held")).to_have_text("0.000")
    assert Order.objects.get(user=seller).status == Order.Status.CANCELLED
    assert_audit_passes()


BAD_ORDERS = [
    # (what, price, quantity, the input marked invalid or None, the error's text)
    ("empty", "", "", "#order-quantity", "decimal"),
    ("negative price", "-1", "1.000", "#order-price", "decimal"),
    ("negative quantity", "25.00", "-1", "#order-quantity", "decimal"),
    ("off the tick", "25.05", "1.000", "#order-price", "multiple of the tick"),
    ("off the lot", "25.00", "0.050", "#order-quantity", "multiple of the lot"),
    ("more than the balance", "25.00", "1000.000", None, "Not enough BUCK"),
]


def test_bad_input_shows_an_error_and_places_nothing(open_page, market):
    buyer = trader("buyer", market)
    page = open_market(open_page, buyer)
    before = ledger_state()
    error = page.locator("#order-error")

    for what, price, quantity, invalid, message in BAD_ORDERS:
        place(page, "buy", price, quantity)

        expect(error, what).to_be_visible()
        expect(error, what).to_contain_text(re.compile(message, re.IGNORECASE))
        expect(page.locator(".is-invalid"), what).to_have_count(1 if invalid else 0)
        if invalid:
            expect(page.locator(invalid), what).to_have_class(re.compile("is-invalid"))
            expect(page.locator(f"{invalid} ~ .invalid-feedback"), what).to_be_visible()
        assert Order.objects.count() == 0, what
        assert ledger_state() == before, what
    expect(page.locator("#open-orders tbody")).to_contain_text("No open orders.")

    # Corrected input clears the errors and the order goes through.
    place(page, "buy", "25.00", "1.000")
    expect(page.locator("#open-orders tbody tr[data-order-id]")).to_have_count(1)
    expect(error).to_be_hidden()
    expect(page.locator(".is-invalid")).to_have_count(0)
    assert Order.objects.count() == 1


def test_a_visitor_sees_the_live_market_and_a_prompt_to_log_in(open_page, market, artifacts):
    maker = trader("maker", market)
    place_directly(maker, market, "buy", quantity=500, price=2_400)
    page = open_market(open_page, viewport=PHONE)

    expect(page.get_by_role("link", name="Log in to trade").first).to_be_visible()
    expect(page.locator("#order-form")).to_have_count(0)
    expect(page.locator("#book-bids tr[data-price='24.00']")).to_be_visible()
    place_directly(maker, market, "sell", quantity=300, price=2_600)
    expect(ask_level(page, "26.00").locator("td").nth(1)).to_have_text("0.300")
    expect(page.locator("#book-spread")).to_contain_text("Spread 2.00 BUCK")
    # Phone width: one column, nothing wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=artifacts / "market-phone-visitor.png", full_page=True)


# Keeps every websocket the page opens reachable, so the test can cut the feed as a network drop would, and keeps
# it cut (every new socket goes to a port where nothing listens) while window.__offline is set.
RECORD_SOCKETS = """
window.__sockets = [];
window.__offline = false;
window.WebSocket = class extends WebSocket {
  constructor(url, ...rest) {
    super(window.__offline ? url.replace(location.host, "127.0.0.1:9") : url, ...rest);
    window.__sockets.push(this);
  }
};
"""


def test_the_screen_catches_up_after_the_feed_drops(open_page, market):
    seller, buyer = trader("seller", market), trader("buyer", market)
    page = open_market(open_page, seller, init_script=RECORD_SOCKETS)
    status = page.locator("#feed-status")

    page.evaluate("window.__offline = true; window.__sockets.forEach((socket) => socket.close())")
    expect(status).to_have_attribute("data-state", "reconnecting")
    # What happens while the page is away: an order rests and another trades against it.
    place_directly(seller, market, "sell", quantity=1_000, price=2_500)
    place_directly(buyer, market, "buy", quantity=400, price=2_500)
    page.wait_for_function("window.__sockets.length >= 2")  # it kept trying
    assert page.locator("#tape tbody").inner_text().strip() == "No trades yet."
    page.evaluate("window.__offline = false")

    expect(status).to_have_attribute("data-state", "live")
    expect(ask_level(page, "25.00").locator("td").nth(1)).to_have_text("0.600")
    expect(page.locator("#tape tbody tr").first).to_contain_text("0.400")
    expect(page.locator("[data-ticker=last]")).to_have_text("25.00")
    expect(page.locator("#open-orders tbody tr[data-order-id]")).to_contain_text("0.400")
    expect(shown_balance(page, "GOLD", "held")).to_have_text("0.600")


def test_the_markets_list_updates_live(open_page, market, artifacts):
    seller, buyer = trader("seller", market), trader("buyer", market)
    page = open_page(path="/markets/")
    expect(page.locator("#feed-status")).to_have_attribute("data-state", "live")
    row = page.locator("tr[data-market='GOLD-BUCK']")
    expect(row.locator("[data-field=last]")).to_have_text("—")

    place_directly(seller, market, "sell", quantity=1_000, price=2_500)
    place_directly(buyer, market, "buy", quantity=400, price=2_500)

    expect(row.locator("[data-field=last]")).to_have_text("25.00")
    expect(row.locator("[data-field=volume]")).to_contain_text("0.400")
    expect(row.locator("[data-field=change]")).to_have_text("0.00%")
    page.screenshot(path=artifacts / "markets-list.png", full_page=True)


def test_page_load_time_and_requests(open_page, market, server, browser):
    """Measure what opening the trading screen costs a signed-in trader: time to load and requests made."""
    user = trader("measured", market)
    page = open_page(user, path="/")
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(PAGE)
    expect(page.locator("#feed-status")).to_have_attribute("data-state", "live")
    timing = page.evaluate(
        """() => { const n = performance.getEntriesByType('navigation')[0];
                   return {ttfb: n.responseStart, dom: n.domContentLoadedEventEnd, load: n.loadEventEnd}; }"""
    )
    print(
        f"\ntrading screen: first byte {timing['ttfb']:.0f} ms, DOM ready {timing['dom']:.0f} ms, "
        f"load {timing['load']:.0f} ms, {len(requests)} requests: {', '.join(r.split('/', 3)[-1] for r in requests)}"
    )
    assert timing["load"] < 5_000
    assert len(requests) <= 10
