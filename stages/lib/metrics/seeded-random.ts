// The seeded generator of bootstrap intervals, weight initialisation and batch order: the project's one
// PRNG (mulberry32, image/rng.ts), so they are reproducible bit for bit across runs and machines.
export { mulberry32 as seededRandom } from '../image/rng.js';
