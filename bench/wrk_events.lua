-- wrk script: POST the real client's cell_executed events, BATCH per request, each with a
-- unique eventId and a distinct eventTime millisecond (bench/events.py builds the same shape).
-- wrk ... -s bench/wrk_events.lua URL -- RUN_HEX BATCH BASE_EPOCH_SECONDS
local threads = {}
local next_thread = 0

function setup(thread)
  thread:set("thread_id", next_thread)
  next_thread = next_thread + 1
  table.insert(threads, thread)
end

local run_hex, batch, base_epoch, counter
local headers = { ["Content-Type"] = "application/json" }

function init(args)
  run_hex = args[1]
  batch = tonumber(args[2])
  base_epoch = tonumber(args[3])
  counter = 0
end

local function event(sequence)
  local student = sequence % 1000
  local failed = sequence % 10 == 0
  local millis = sequence
  local seconds = base_epoch + math.floor(millis / 1000)
  local time = os.date("!%Y-%m-%dT%H:%M:%S", seconds) .. string.format(".%03dZ", millis % 1000)
  local code, result, error_part = 'x = 2 + 2\\nx', '4', ''
  if failed then
    code = '1/0'
    result = 'ZeroDivisionError: division by zero'
    error_part = '"errorMessage":"ZeroDivisionError: division by zero",'
  end
  return string.format(
    '{"eventId":"%s-%04x-4%03x-a%03x-%012x","eventType":"cell_executed","eventTime":"%s",'
      .. '"emailAddress":"bench%05d@example.com","teamName":"チーム%d","userName":"テスト学生%05d",'
      .. '"sessionId":"00000000-0000-4000-8000-%012x","notebookPath":"lessons/week%d.ipynb",'
      .. '"cellId":"00000000-0000-4000-8000-%012x","cellIndex":%d,"cellType":"code",'
      .. '"code":"%s","executionCount":%d,"hasError":%s,%s"result":"%s","executionDurationMs":2}',
    run_hex, thread_id, math.floor(sequence / 0x1000000) % 0x1000,
    math.floor(sequence / 0x1000) % 0x1000, sequence,
    time, student, student % 12 + 1, student, student + 1, sequence % 4 + 1,
    student * 256 + sequence % 20 + 1, sequence % 20, code, math.floor(sequence / 1000) + 1,
    tostring(failed), error_part, result)
end

function request()
  local parts = {}
  for i = 1, batch do
    -- Threads take disjoint ranges of ten million events each.
    parts[i] = event(thread_id * 10000000 + counter)
    counter = counter + 1
  end
  return wrk.format("POST", nil, headers, "[" .. table.concat(parts, ",") .. "]")
end

function done(summary, latency, requests)
  io.write(string.format(
    'WRK_JSON {"duration_us":%d,"requests":%d,"bytes":%d,"connect_errors":%d,'
      .. '"read_errors":%d,"write_errors":%d,"status_errors":%d,"timeouts":%d,'
      .. '"p50_us":%d,"p99_us":%d,"mean_us":%.1f,"max_us":%d}\n',
    summary.duration, summary.requests, summary.bytes, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.status, summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean, latency.max))
end
