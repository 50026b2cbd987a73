"""Truth: rules over facts written in TOML, checked on one record or a whole dataset."""
