"""HTTP plumbing shared by the API and the pages: application keys, middlewares, sessions,
CSRF and the one place that maps errors to responses."""
