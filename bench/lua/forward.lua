-- GET /v1/authz/forward as nginx's auth_request sends it: a route rule maps
-- the original request to data:read in the tenant named by the path.
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_ACCESS_TOKEN")
wrk.headers["X-Original-Method"] = "GET"
wrk.headers["X-Original-URI"] = "/api/t/" .. os.getenv("BENCH_TENANT") .. "/documents/1"
