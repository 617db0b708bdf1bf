"""The loop around recommendations: what was served (:mod:`.served`), and the impressions,
clicks and purchases that come back with its ``rec_id`` through the normal event API, joined to
it into click-through and conversion per strategy and segment (:mod:`.report`)."""
