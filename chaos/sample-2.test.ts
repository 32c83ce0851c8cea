import { chaosSample } from './sample.ts';

// Seeds 51–100 of the 200 CI runs (four files, so two workers share them).
chaosSample(51, 50);
