-- POST /v1/auth/token/refresh as a chain: every response's refresh token is
-- used by the next request of the same thread (one connection per thread),
-- since a rotated token must never be presented twice.
local tokens = {}
for t in string.gmatch(os.getenv("BENCH_REFRESH_TOKENS") or "", "[^,]+") do
  table.insert(tokens, t)
end
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("token", tokens[counter])
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

function request()
  return wrk.format(nil, nil, nil, '{"refreshToken":"' .. token .. '"}')
end

function response(status, headers, body)
  if status == 200 then
    local next_token = string.match(body, '"refreshToken":"([^"]+)"')
    if next_token then token = next_token end
  else
    io.stderr:write("refresh failed with status " .. status .. "\n")
  end
end
