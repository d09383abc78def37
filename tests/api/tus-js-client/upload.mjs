// Uploads a file to Ferry with the stock tus-js-client, in pieces, the way a browser or Node
// client would, and resumes it: the first Upload stops after its first piece, a second Upload
// given that URL asks HEAD for the offset and sends the rest. Run by tests/api/tst_tusjsclient.cpp:
//   node upload.mjs <endpoint> <token> <file> <dataset> <chunk bytes>
// Prints one JSON line: {"url", "jobId", "sessionId", "patches", "heads"}.
import { readFileSync } from 'node:fs';
import tus from 'tus-js-client';

const [endpoint, token, file, dataset, chunk] = process.argv.slice(2);
const data = readFileSync(file);
let jobId = null;
let sessionId = null;
let patches = 0;
let heads = 0;

function options(extra) {
  return {
    endpoint,
    headers: { Authorization: `Bearer ${token}` },
    chunkSize: Number(chunk),
    retryDelays: [0, 200, 1000],
    metadata: { dataset, format: 'csv', key: 'id', filename: 'people.csv', filetype: 'text/csv' },
    onAfterResponse(req, res) {
      if (req.getMethod() === 'PATCH') patches += 1;
      if (req.getMethod() === 'HEAD') heads += 1;
      const job = res.getHeader('Ferry-Job-Id');
      if (job) {
        jobId = Number(job);
        sessionId = res.getHeader('Ferry-Session-Id');
      }
    },
    ...extra,
  };
}

function fail(error) {
  console.error(`tus-js-client upload failed: ${error}`);
  process.exit(1);
}

// First piece only, then stop (as a closed tab or a lost network would).
const started = await new Promise((resolve, reject) => {
  const upload = new tus.Upload(data, options({
    onError: reject,
    onChunkComplete() {
      upload.abort().then(() => resolve(upload.url), reject);
    },
    onSuccess: () => resolve(upload.url),
  }));
  upload.start();
}).catch(fail);

// Resume from the server's offset.
const url = await new Promise((resolve, reject) => {
  const upload = new tus.Upload(data, options({
    uploadUrl: started,
    onError: reject,
    onSuccess: () => resolve(upload.url),
  }));
  upload.start();
}).catch(fail);

console.log(JSON.stringify({ url, jobId, sessionId, patches, heads }));
