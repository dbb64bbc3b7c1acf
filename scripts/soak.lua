-- Requests for scripts/soak.sh: valid, invalid and oversized trace headers
-- and user agents, in turn. Every one must get a 2xx: a bad header is
-- dropped, never an error.
local variants = {}

local function add(path, headers)
  variants[#variants + 1] = wrk.format("GET", path, headers)
end

local valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
local members = {}
for i = 1, 200 do members[#members + 1] = "k" .. i .. "=v" .. i end
local many_members = table.concat(members, ",")
local big_baggage = {}
for i = 1, 400 do big_baggage[#big_baggage + 1] = "key" .. i .. "=" .. string.rep("x", 20) end

add("/", { ["traceparent"] = valid, ["baggage"] = "tenant=acme", ["x-request-id"] = "soak-1" })
add("/items/7", { ["traceparent"] = valid, ["tracestate"] = "vendor=a,other=b" })
add("/", { ["traceparent"] = "00-zzzz-not-a-traceparent-01" })
add("/", { ["traceparent"] = "ff-" .. string.rep("a", 100) })
add("/items/8", { ["traceparent"] = valid, ["tracestate"] = many_members })
add("/", { ["traceparent"] = valid, ["baggage"] = table.concat(big_baggage, ",") })
add("/", { ["user-agent"] = string.rep("A", 16 * 1024) })
add("/items/9", { ["user-agent"] = "bytes \255\254 not utf-8", ["x-request-id"] = string.rep("r", 300) })
add("/", { ["traceparent"] = valid, ["baggage"] = "%ff%fe=%zz;;;,=,,bad key=1" })
add("/" .. string.rep("p", 4000), { ["traceparent"] = valid })
add("/items/10", {})

local n = 0
request = function()
  n = n + 1
  return variants[(n % #variants) + 1]
end
