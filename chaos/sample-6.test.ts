import { chaosSample } from './sample.ts';

// Seeds 126–150 of the 200 CI runs (eight files, so the workers share them evenly).
chaosSample(126, 25);
