// Uploads a file to Ferry with the stock tus-js-client, in pieces, the way a browser or Node
// client would. Run by tests/api/tst_tusjsclient.cpp:
//   node upload.mjs <endpoint> <token> <file> <dataset> <chunk bytes>
// Prints one JSON line: {"url": ..., "jobId": ..., "sessionId": ..., "patches": n}.
import { readFileSync } from 'node:fs';
import tus from 'tus-js-client';

const [endpoint, token, file, dataset, chunk] = process.argv.slice(2);
const data = readFileSync(file);
let jobId = null;
let sessionId = null;
let patches = 0;

const url = await new Promise((resolve, reject) => {
  const upload = new tus.Upload(data, {
    endpoint,
    headers: { Authorization: `Bearer ${token}` },
    chunkSize: Number(chunk),
    retryDelays: [0, 200, 1000],
    metadata: { dataset, format: 'csv', key: 'id', filename: 'people.csv', filetype: 'text/csv' },
    onAfterResponse(req, res) {
      if (req.getMethod() === 'PATCH') patches += 1;
      const job = res.getHeader('Ferry-Job-Id');
      if (job) {
        jobId = Number(job);
        sessionId = res.getHeader('Ferry-Session-Id');
      }
    },
    onError: reject,
    onSuccess: () => resolve(upload.url),
  });
  upload.start();
}).catch((error) => {
  console.error(`tus-js-client upload failed: ${error}`);
  process.exit(1);
});

console.log(JSON.stringify({ url, jobId, sessionId, patches }));
