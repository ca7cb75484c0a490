-- POST /v1/auth/sign-in with the bench user's credentials.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"email":"' .. os.getenv("BENCH_EMAIL") .. '","password":"' .. os.getenv("BENCH_PASSWORD") .. '"}'

local failures = 0
function response(status, headers, body)
  if status ~= 200 then failures = failures + 1 end
end
