"""Example trading bots built on exchange_client only (no Django). Run them from the project folder:

    EXCHANGE_API_KEY=ak_... EXCHANGE_API_SECRET=... python -m bots.market_maker --market GOLD-BUCK
    EXCHANGE_API_KEY=ak_... EXCHANGE_API_SECRET=... python -m bots.taker --market GOLD-BUCK --rate 1

`python -m bots.demo` starts the exchange with both (what `make run` does). See docs/bots.md.
"""
