-- POST /v1/auth/token/refresh as chains: a rotated token must never be
-- presented twice, so each chain has one request in flight at most. Every
-- thread gets its share of BENCH_REFRESH_TOKENS as a pool of free chains:
-- a request takes one, its response puts the rotated token back. With as
-- many tokens as connections, a connection ready to send always finds one
-- (its own previous response returned a token), so the chains are as many
-- as the connections while the wrk threads stay as few as the cores.
local tokens = {}
for t in string.gmatch(os.getenv("BENCH_REFRESH_TOKENS") or "", "[^,]+") do
  table.insert(tokens, t)
end
-- wrk runs setup() and then the thread, one thread after the other, so
-- the number of threads comes from the caller (the same as wrk's -t).
local thread_count = tonumber(os.getenv("BENCH_REFRESH_THREADS") or "1")
local counter = 0

function setup(thread)
  counter = counter + 1
  local share = {}
  for j = counter, #tokens, thread_count do
    table.insert(share, tokens[j])
  end
  thread:set("share", table.concat(share, ","))
  -- wrk calls the first thread's request() once before it runs, to check
  -- the request it builds: that call must not take a chain.
  thread:set("verifying", counter == 1)
end

local free = nil

-- The thread's share, read at its first request (wrk may run a thread's
-- init() before the main state's setup() has given it its share).
local function pool()
  if free == nil then
    free = {}
    for t in string.gmatch(share or "", "[^,]+") do
      table.insert(free, t)
    end
  end
  return free
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

function request()
  -- An empty pool means a chain broke (a failed response): the request
  -- then fails too, and wrk counts it.
  local token
  if verifying then
    verifying = false
    token = pool()[#pool()] or "no-chain-left"
  else
    token = table.remove(pool()) or "no-chain-left"
  end
  return wrk.format(nil, nil, nil, '{"refreshToken":"' .. token .. '"}')
end

function response(status, headers, body)
  if status == 200 then
    local next_token = string.match(body, '"refreshToken":"([^"]+)"')
    if next_token then table.insert(pool(), next_token) end
  else
    io.stderr:write("refresh failed with status " .. status .. "\n")
  end
end
