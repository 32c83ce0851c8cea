import { chaosSample } from './sample.ts';

// Seeds 1–25 of the 200 CI runs (eight files, so the workers share them evenly).
chaosSample(1, 25);
