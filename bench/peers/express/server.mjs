// The seed's stack: Express 5 with express-rate-limit on /api/, serving the JSON Ferry's
// GET /api/v1/jobs/{id} returns, behind the same kind of bearer check, and taking multipart
// uploads to disk with multer as the seed's app did. Port from argv[2], upload dir argv[5].
import { randomUUID } from 'node:crypto';
import express from 'express';
import { rateLimit } from 'express-rate-limit';
import multer from 'multer';

const port = Number(process.argv[2] || 3000);
const limit = Number(process.argv[3] || 1000000000);
const token = process.argv[4] || 'fy_bench';
const app = express();
app.use('/api/', rateLimit({
  windowMs: 15 * 60 * 1000,
  limit,
  standardHeaders: 'draft-7',
  legacyHeaders: false,
  message: { success: false, error: 'Too many requests', message: 'Rate limit exceeded. Please try again later.' },
}));
const job = {
  attempts: 1, createdAt: 1795968160990, error: null, finishedAt: 1795968161038, id: '1',
  maxAttempts: 5, priority: 0, progress: {}, result: null, sessionId: null,
  startedAt: 1795968161034, status: 'completed', type: 'noop',
};
app.get('/api/v1/jobs/:id', (req, res) => {
  if (req.get('authorization') !== `Bearer ${token}`) {
    res.status(401).set('WWW-Authenticate', 'Bearer').json({ success: false, error: 'Unauthorized', message: 'Send a token.', code: 'unauthorized' });
    return;
  }
  if (req.params.id !== '1') {
    res.status(404).json({ success: false, error: 'Not found', message: 'No such job.', code: 'not_found' });
    return;
  }
  res.json({ job, success: true });
});
const upload = multer({ dest: process.argv[5] || '/tmp/ferry-bench-express-uploads' });
let nextJob = 2;
app.post('/api/v1/uploads', (req, res, next) => {
  if (req.get('authorization') !== `Bearer ${token}`) {
    res.status(401).set('WWW-Authenticate', 'Bearer').json({ success: false, error: 'Unauthorized', message: 'Send a token.', code: 'unauthorized' });
    return;
  }
  next();
}, upload.single('file'), (req, res) => {
  if (!req.file || !req.body.dataset) {
    res.status(400).json({ success: false, error: 'Bad request', message: 'Send file and dataset.', code: 'invalid_upload' });
    return;
  }
  const jobId = String(nextJob++);
  res.status(202).set('Location', `/api/v1/jobs/${jobId}`)
    .json({ success: true, sessionId: randomUUID(), jobId, status: 'pending' });
});
app.listen(port, '127.0.0.1', () => console.log(`listening ${port}`));
