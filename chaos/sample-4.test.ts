import { chaosSample } from './sample.ts';

// Seeds 76–100 of the 200 CI runs (eight files, so the workers share them evenly).
chaosSample(76, 25);
