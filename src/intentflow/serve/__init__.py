"""The read API over what the stream and the models know (the collector's write API lives in
:mod:`intentflow.collect`)."""
