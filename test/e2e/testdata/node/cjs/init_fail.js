throw new Error('init boom');
