-- GET with the bench user's access token.
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_ACCESS_TOKEN")
