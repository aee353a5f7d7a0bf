"""The registry service (``synthgov serve``, the ``synthgov[service]`` extra): a FastAPI app where a team keeps,
shares and audits its releases. Releases are uploaded as zip files of release folders and verified on arrival
against the uploader's registered signing key; files are stored content-addressed; each download is a copy
watermarked for its recipient and signed by the service; every action is appended to a hash-chained audit log.

Modules: ``settings`` (where things live, limits), ``database`` (engine, sessions, Alembic migrations), ``models``
(tables), ``schemas`` (API bodies), ``auth`` (tokens, roles, failed-login limits), ``audit_log`` (the chain),
``store`` (content-addressed files), ``uploads`` (safe unpacking and verification), ``copies`` (recipient copies),
``admin`` (users and tokens, for the CLI), ``client`` (push and pull), ``routers/`` (the endpoints), ``app``.
"""
