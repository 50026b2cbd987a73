-- Rejects REST JSON bodies that name fields the target protobuf message does not
-- have (Envoy's gRPC-JSON transcoder silently drops unknown fields; this filter
-- runs before it), and bodies nested deeper than MAX_JSON_DEPTH objects/arrays
-- (which the protobuf decoder behind the transcoder would refuse less clearly).
-- ROUTES, MESSAGES, MAX_JSON_DEPTH, ERROR_DOMAIN and GUARD_HEADER are generated
-- (lakehouse.gateway.json_guard) and prepended to this file.

-- Raised (as an error value) by the parser when the nesting limit is passed.
local TOO_DEEP = {}
-- Every scalar is the same node: only objects (and arrays of them) are checked.
local SCALAR = { kind = "scalar" }
local EMPTY_ARRAY = { kind = "array", items = {} }
local ESCAPES = { b = "\b", f = "\f", n = "\n", r = "\r", t = "\t" }

local function skip_ws(s, i)
  return string.find(s, "[^ \t\r\n]", i) or (#s + 1)
end

local parse_value

local function parse_string(s, i)
  -- s[i] == '"'; returns decoded string (escapes other than \uXXXX kept simple), next index.
  -- Runs without quotes or backslashes are copied in one step.
  local out, j = {}, i + 1
  while true do
    local stop = string.find(s, '["\\]', j)
    if stop == nil then error("unterminated string") end
    if stop > j then
      out[#out + 1] = string.sub(s, j, stop - 1)
      j = stop
    end
    local c = string.sub(s, j, j)
    if c == '"' then return table.concat(out), j + 1 end
    if c == "\\" then
      local e = string.sub(s, j + 1, j + 1)
      if e == "u" then
        local hex = string.sub(s, j + 2, j + 5)
        local code = tonumber(hex, 16) or 63
        out[#out + 1] = code < 128 and string.char(code) or "?"
        j = j + 6
      else
        out[#out + 1] = ESCAPES[e] or e
        j = j + 2
      end
    else
      out[#out + 1] = c
      j = j + 1
    end
  end
end

local function parse_object(s, i, depth)
  if depth > MAX_JSON_DEPTH then error(TOO_DEEP) end
  local obj, order = {}, {}
  i = skip_ws(s, i + 1)
  if string.sub(s, i, i) == "}" then return { kind = "object", fields = obj, order = order }, i + 1 end
  while true do
    if string.sub(s, i, i) ~= '"' then error("expected a key") end
    local key
    key, i = parse_string(s, i)
    i = skip_ws(s, i)
    if string.sub(s, i, i) ~= ":" then error("expected ':'") end
    local value
    value, i = parse_value(s, skip_ws(s, i + 1), depth + 1)
    obj[key] = value
    order[#order + 1] = key
    i = skip_ws(s, i)
    local c = string.sub(s, i, i)
    if c == "}" then return { kind = "object", fields = obj, order = order }, i + 1 end
    if c ~= "," then error("expected ',' or '}'") end
    i = skip_ws(s, i + 1)
  end
end

local function parse_array(s, i, depth)
  if depth > MAX_JSON_DEPTH then error(TOO_DEEP) end
  -- An array of numbers (an embedding: hundreds of them) is skipped in one match; a
  -- malformed one ("1,,2") passes here and the transcoder refuses it.
  local after = string.match(s, "^[-+%d.eE, \t\r\n]*()", i + 1)
  if string.sub(s, after, after) == "]" then return EMPTY_ARRAY, after + 1 end
  local items = {}
  i = skip_ws(s, i + 1)
  if string.sub(s, i, i) == "]" then return { kind = "array", items = items }, i + 1 end
  while true do
    local value
    value, i = parse_value(s, i, depth + 1)
    items[#items + 1] = value
    i = skip_ws(s, i)
    local c = string.sub(s, i, i)
    if c == "]" then return { kind = "array", items = items }, i + 1 end
    if c ~= "," then error("expected ',' or ']'") end
    i = skip_ws(s, i + 1)
  end
end

-- depth: how many objects/arrays enclose the value, plus one (the top-level value is 1).
parse_value = function(s, i, depth)
  i = skip_ws(s, i)
  local c = string.sub(s, i, i)
  if c == "{" then return parse_object(s, i, depth) end
  if c == "[" then return parse_array(s, i, depth) end
  if c == '"' then
    local _, j = parse_string(s, i)
    return SCALAR, j
  end
  local j = string.find(s, "[,}%] \t\r\n]", i) or (#s + 1)
  if j == i then error("unexpected character") end
  return SCALAR, j
end

-- Returns the dotted path of the first unknown field, or nil.
local function find_unknown(node, message, prefix)
  local spec = MESSAGES[message]
  if spec == nil or node.kind ~= "object" then return nil end
  for _, key in ipairs(node.order) do
    local field = spec[key]
    local path = prefix == "" and key or (prefix .. "." .. key)
    if field == nil then return path end
    local value = node.fields[key]
    if field.msg ~= nil then
      if field.map and value.kind == "object" then
        for _, k in ipairs(value.order) do
          local bad = find_unknown(value.fields[k], field.msg, path .. "." .. k)
          if bad then return bad end
        end
      elseif field.rep and value.kind == "array" then
        for n, item in ipairs(value.items) do
          local bad = find_unknown(item, field.msg, path .. "[" .. (n - 1) .. "]")
          if bad then return bad end
        end
      else
        local bad = find_unknown(value, field.msg, path)
        if bad then return bad end
      end
    end
  end
  return nil
end

local function route_message(method, path)
  local bare = string.match(path, "^[^?]*")
  for _, r in ipairs(ROUTES) do
    if r.method == method and string.match(bare, r.pattern) then return r.message end
  end
  return nil
end

local function respond(handle, body)
  -- Marks the request so the local-reply mapper passes this body through as is.
  handle:headers():replace(GUARD_HEADER, "1")
  handle:respond({ [":status"] = "400", ["content-type"] = "application/json" }, body)
end

local function reject(handle, message)
  local body = '{"code":3,"message":"' .. string.gsub(message, '["\\]', "\\%0") .. '","details":[{"@type":'
    .. '"type.googleapis.com/google.rpc.BadRequest","field_violations":[{"field":"'
    .. string.gsub(string.match(message, "'(.-)'") or "", '["\\]', "\\%0")
    .. '","description":"unknown field"}]}]}'
  respond(handle, body)
end

local function reject_too_deep(handle)
  local limit = tostring(MAX_JSON_DEPTH)
  respond(handle, '{"code":3,"message":"the JSON body nests objects and arrays deeper than ' .. limit
    .. ' levels (max_json_depth)","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo",'
    .. '"reason":"NESTING_TOO_DEEP","domain":"' .. ERROR_DOMAIN .. '","metadata":{"limit":"' .. limit
    .. '","setting":"max_json_depth"}}]}')
end

function envoy_on_request(handle)
  local headers = handle:headers()
  local method = headers:get(":method")
  if method ~= "POST" and method ~= "PUT" and method ~= "PATCH" then return end
  local content_type = headers:get("content-type") or ""
  if string.find(content_type, "grpc", 1, true) then return end
  local message = route_message(method, headers:get(":path") or "")
  if message == nil then return end
  local buffer = handle:body()
  if buffer == nil then return end
  local raw = buffer:getBytes(0, buffer:length())
  local ok, node = pcall(parse_value, raw, 1, 1)
  if not ok then
    if node == TOO_DEEP then reject_too_deep(handle) end
    return -- malformed JSON: the transcoder answers 400 with its parser's message
  end
  local bad = find_unknown(node, message, "")
  if bad then reject(handle, "unknown field '" .. bad .. "' in " .. message) end
end
