// The seed's stack: Express 5 with express-rate-limit on /api/, serving the JSON Ferry's
// GET /api/v1/jobs/{id} returns, behind the same kind of bearer check. Port from argv[2].
import express from 'express';
import { rateLimit } from 'express-rate-limit';

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
app.listen(port, '127.0.0.1', () => console.log(`listening ${port}`));
