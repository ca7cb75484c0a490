-- POST /oauth2/token with grant_type=client_credentials, the machine client's
-- id and secret in HTTP Basic (BENCH_CLIENT_BASIC: base64 of id:secret).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic " .. (os.getenv("BENCH_CLIENT_BASIC") or "")
wrk.body = "grant_type=client_credentials&scope=api%3Aread"
