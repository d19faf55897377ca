"""The engine worker process: the front door (`engine.api`) served over a pipe.

`protocol` (messages and their safe serialisation), `server` (the loop that runs in the
worker process), `client` (the window's side: starts, feeds, watches and restarts it).
Only `protocol` and `client` are imported by the window's process; neither imports
TensorFlow or Keras.
"""
