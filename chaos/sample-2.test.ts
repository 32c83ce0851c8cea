import { chaosSample } from './sample.ts';

// Seeds 26–50 of the 200 CI runs (eight files, so the workers share them evenly).
chaosSample(26, 25);
