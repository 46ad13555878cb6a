"""The rollup adapter: Cartesi payload codecs, JSON op parsing, the input router."""
