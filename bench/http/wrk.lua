-- wrk.lua [DEPTH] - bench/http/drive.py's wrk script.  With DEPTH > 1 every
-- connection sends DEPTH requests at once and waits for their DEPTH
-- responses (HTTP/1.1 pipelining); wrk counts each response.  Without it
-- wrk sends its own static request (one in flight per connection).  At the
-- end one line "JSON {...}" gives drive.py the totals: requests, seconds,
-- bytes and the error counts.
local depth = 1

init = function(args)
   depth = tonumber(args[1]) or 1
   if depth > 1 then
      local r = {}
      for i = 1, depth do
         r[i] = wrk.format(nil, wrk.path)
      end
      local batch = table.concat(r)
      request = function()
         return batch
      end
   end
end

done = function(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'JSON {"requests": %d, "seconds": %.6f, "bytes": %d, "connect": %d, "read": %d, ' ..
      '"write": %d, "status": %d, "timeout": %d, "p99_us": %d}\n',
      summary.requests, summary.duration / 1e6, summary.bytes, e.connect, e.read, e.write,
      e.status, e.timeout, latency:percentile(99)))
end
