import { chaosSample } from './sample.ts';

// Seeds 1–50 of the 200 CI runs (four files, so two workers share them).
chaosSample(1, 50);
