-- POST /v1/authz/check for the bench user's tenant (a role decision).
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_ACCESS_TOKEN")
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"action":"data:write","tenantId":"' .. os.getenv("BENCH_TENANT") .. '"}'
