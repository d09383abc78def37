-- wrk script: POST a 1 MiB CSV as multipart/form-data (field "file", plus dataset=bench) to
-- /api/v1/uploads, the same body for Ferry and Express. Token from the environment (TOKEN).
local boundary = "ferrybenchboundary7d93"
local row = "id,name,email,amount\n"
local lines = {row}
local size = #row
local i = 0
while size < 1048576 do
  i = i + 1
  local line = string.format("%d,name %d,user%d@example.com,%d.%02d\n", i, i, i, i % 10000, i % 100)
  lines[#lines + 1] = line
  size = size + #line
end
local csv = table.concat(lines)
wrk.method = "POST"
wrk.path = "/api/v1/uploads"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
wrk.headers["Content-Type"] = "multipart/form-data; boundary=" .. boundary
wrk.body = "--" .. boundary .. "\r\n" ..
  "Content-Disposition: form-data; name=\"dataset\"\r\n\r\nbench\r\n" ..
  "--" .. boundary .. "\r\n" ..
  "Content-Disposition: form-data; name=\"file\"; filename=\"bench.csv\"\r\n" ..
  "Content-Type: text/csv\r\n\r\n" .. csv .. "\r\n" ..
  "--" .. boundary .. "--\r\n"
