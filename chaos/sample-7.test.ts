import { chaosSample } from './sample.ts';

// Seeds 151–175 of the 200 CI runs (eight files, so the workers share them evenly).
chaosSample(151, 25);
