import { chaosSample } from './sample.ts';

// Seeds 51–75 of the 200 CI runs (eight files, so the workers share them evenly).
chaosSample(51, 25);
