import { chaosSample } from './sample.ts';

// Seeds 151–200 of the 200 CI runs (four files, so two workers share them).
chaosSample(151, 50);
