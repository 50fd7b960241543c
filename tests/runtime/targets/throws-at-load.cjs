console.log("loading...");
throw new Error("cannot initialise");
