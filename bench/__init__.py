"""scripts/bench: the service against bare Litestar, bare-ASGI floors and FastAPI + Beanie."""
