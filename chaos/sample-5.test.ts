import { chaosSample } from './sample.ts';

// Seeds 101–125 of the 200 CI runs (eight files, so the workers share them evenly).
chaosSample(101, 25);
