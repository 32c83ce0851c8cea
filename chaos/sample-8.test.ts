import { chaosSample } from './sample.ts';

// Seeds 176–200 of the 200 CI runs (eight files, so the workers share them evenly).
chaosSample(176, 25);
