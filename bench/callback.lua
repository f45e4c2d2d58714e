-- wrk script: POST the pre-signed callbacks of bench/make_requests.py and check each reply.
-- Usage: wrk -tT ... -s bench/callback.lua URL -- REQUEST_FILE MARKER T
-- Each wrk thread has its own Lua state, so the file is dealt out between the T threads:
-- thread k sends lines k, k+T, k+2T, ... and no message goes out twice (a repeat would be
-- answered from the de-duplication cache, which is not the work we mean to measure).
-- T is passed in because a thread's init() runs before the next thread exists.

local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  local file, nthreads = args[1], tonumber(args[3])
  expect = args[2]
  queue, sent, wrapped = {}, 0, 0
  checked, non200, unexpected = 0, 0, 0
  local headers = { ["Content-Type"] = "text/xml" }
  local n = 0
  for line in io.lines(file) do
    if n % nthreads == id then
      local query, body = line:match("^([^\t]*)\t(.*)$")
      table.insert(queue, wrk.format("POST", wrk.path .. "?" .. query, headers, body))
    end
    n = n + 1
  end
end

function request()
  sent = sent + 1
  if sent > #queue then
    -- Out of fresh messages: from here on they are repeats; reported, and the run is suspect.
    wrapped = wrapped + 1
    return queue[(sent - 1) % #queue + 1]
  end
  return queue[sent]
end

function response(status, headers, body)
  checked = checked + 1
  if status ~= 200 then
    non200 = non200 + 1
  elseif not string.find(body, expect, 1, true) then
    unexpected = unexpected + 1
  end
end

function done(summary, latency, requests)
  local c = { checked = 0, non200 = 0, unexpected = 0, wrapped = 0 }
  for _, thread in ipairs(threads) do
    for key, _ in pairs(c) do c[key] = c[key] + thread:get(key) end
  end
  local e = summary.errors
  -- One line for bench/run.sh to read; latencies are in microseconds in wrk.
  io.write(string.format(
    "RESULT rps=%.1f p50_ms=%.1f p99_ms=%.1f requests=%d checked=%d non200=%d " ..
    "unexpected=%d repeats=%d socket_errors=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.requests, c.checked, c.non200, c.unexpected,
    c.wrapped, e.connect + e.read + e.write + e.timeout))
end
