/** A distance in km as the service stores, shows and publishes it: to the metre. */
export const round3 = (km: number) => Math.round(km * 1000) / 1000;
