import { chaosSample } from './sample.ts';

// Seeds 101–150 of the 200 CI runs (four files, so two workers share them).
chaosSample(101, 50);
