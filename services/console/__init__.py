"""The web console: the three tables as people use them, behind one address.

Serves the single-page app, signs people in, and forwards ``/api/<service>/...`` to each
service with the signed-in person's token; it holds no data of its own.
"""
