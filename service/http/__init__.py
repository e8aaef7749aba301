"""The HTTP layer: app factory, controllers, middleware, problem+json, OpenAPI, the server."""
